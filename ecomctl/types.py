"""Frozen values exchanged between stages: manifest row → subject → layout → scene → poster → QA."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # numpy and PIL load where pixels are touched, not when the CLI starts
    import numpy as np
    from PIL import Image

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Size:
    w: int
    h: int

    def __str__(self) -> str:
        return f"{self.w}x{self.h}"

    @property
    def tuple(self) -> tuple[int, int]:
        return (self.w, self.h)


@dataclass(frozen=True)
class Box:
    """Axis-aligned pixel box, half-open: x0 <= x < x1, y0 <= y < y1."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def intersection(self, other: Box) -> int:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(0, w) * max(0, h)

    def expand(self, d: int) -> Box:
        return Box(self.x0 - d, self.y0 - d, self.x1 + d, self.y1 + d)

    def shift(self, dx: int, dy: int) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def clip(self, size: Size) -> Box:
        return Box(max(0, self.x0), max(0, self.y0), min(size.w, self.x1), min(size.h, self.y1))

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]

    @classmethod
    def from_list(cls, xs: list[int] | tuple[int, ...]) -> Box:
        return cls(*(int(v) for v in xs))


@dataclass(frozen=True)
class SkuRow:
    """One validated manifest row. Paths are absolute; `where` is `file:row` for messages."""

    sku: str
    image: Path
    title: str
    size: Size
    subtitle: str | None = None
    price: str | None = None
    badge: str | None = None
    subject: str | None = None
    style: str | None = None
    prompt: str | None = None
    template: str | None = None
    variants: int = 1
    seed: int | None = None
    lang: str | None = None
    where: str = ""
    campaign: str | None = None  # SKUs of one campaign share one reference style
    # a photo by URL: `image` is its copy in OUT's photo cache (photos.py binds it before any stage reads it)
    url: str | None = None
    logo: Path | None = None  # the brand's logo (an image file; transparent PNG typical)
    points: tuple[str, ...] = ()  # selling points, at most 4, drawn as a list
    list_price: str | None = None  # the price before discount, drawn smaller and struck through
    price_label: str | None = None  # a word before the price: "到手价", "Now"
    url_where: str | None = None  # `file:row:column` of a photo URL's cell (validate --check-urls); not an input

    def copy_lines(self) -> dict[str, str]:
        """The manifest copy by copy key, only what is present: the roles title, subtitle, price_label,
        price, list_price, badge, and one key per selling point ("point1" … "point4", role "point"). Every
        entry is drawn (unless the layout has to drop it, see Layout.dropped) and re-read by OCR."""
        roles = {"title": self.title, "subtitle": self.subtitle, "price_label": self.price_label,
                 "price": self.price, "list_price": self.list_price, "badge": self.badge}
        roles |= {f"point{i}": p for i, p in enumerate(self.points, start=1)}
        return {k: v for k, v in roles.items() if v}


@dataclass(frozen=True, eq=False)
class Subject:
    """The product found in the source photo, in the source image's pixel coordinates."""

    image: Image.Image  # RGB source photo
    mask: np.ndarray  # HxW uint8, 0..255 soft alpha
    bbox: Box  # tight box of mask > 127
    method: str  # extractor that produced the mask
    note: str | None = None  # why a fallback happened, if one did
    confidence: float | None = None  # 0..1, how far the mask can be trusted (ecomctl.subject.confidence)
    confidence_why: str | None = None  # the weakest evidence behind a low confidence

    def cutout(self) -> Image.Image:
        """RGBA crop of the product: source pixels, mask as alpha, cropped to bbox."""
        rgba = self.image.convert("RGB").copy()
        from PIL import Image

        rgba.putalpha(Image.fromarray(self.mask, "L"))
        return rgba.crop(tuple(self.bbox.as_list()))


@dataclass(frozen=True)
class Style:
    """A resolved style preset (see manifests/styles.yaml) or a style built from a reference image."""

    name: str
    background: tuple[RGB, ...]  # gradient stops, top → bottom (or centre → edge for radial)
    gradient: Literal["linear", "radial", "flat"] = "linear"
    texture: Literal["none", "grain", "dots", "lines", "paper"] = "none"
    accent: RGB = (200, 30, 40)
    text: RGB = (20, 20, 20)
    plate: RGB = (255, 255, 255)
    shape: Literal["none", "circle", "arch", "band", "blob"] = "none"
    title_weight: int = 800
    body_weight: int = 400
    prompt: str = ""  # scene description for diffusion backends
    reference: Path | None = None  # style reference image, if any


@dataclass(frozen=True)
class TextLine:
    """One typeset line: its role, exact text, the box its ink occupies and how it is drawn."""

    role: str  # title | subtitle | price | badge | point | price_label | list_price (drawn struck through)
    text: str
    box: Box  # ink box on the canvas
    font_size: int
    weight: int
    color: RGB
    block: int = 0  # index of the copy block (a wrapped title gives several lines of one block)


@dataclass(frozen=True)
class Plate:
    """A designed backing element under text: price tag, badge, band."""

    role: str
    box: Box
    color: RGB
    kind: Literal["tag", "badge", "band", "pill", "dot"] = "pill"  # dot: a list bullet (role "bullet")


@dataclass(frozen=True)
class Layout:
    canvas: Size
    template: str
    subject_box: Box  # where the product cutout is placed on the canvas
    lines: tuple[TextLine, ...]
    plates: tuple[Plate, ...] = ()
    font: str = ""  # font file used for every line
    logo: Box | None = None  # where the brand's logo is drawn (its trimmed image, aspect kept)
    dropped: tuple[str, ...] = ()  # copy the canvas could not hold, in drop order ("points[2:]", "subtitle")


@dataclass(frozen=True, eq=False)
class SceneRequest:
    """What a render backend gets: the placed subject and the style; it returns the scene around it."""

    row: SkuRow
    variant: int
    seed: int
    style: Style
    layout: Layout
    subject_layer: Image.Image  # RGBA canvas-size layer, product placed at layout.subject_box
    prompt: str
    negative_prompt: str = ""

    @property
    def size(self) -> Size:
        return self.layout.canvas

    @property
    def subject_mask(self) -> np.ndarray:
        """HxW uint8 alpha of the placed product on the canvas."""
        import numpy as np

        return np.asarray(self.subject_layer.getchannel("A"))


@dataclass(frozen=True, eq=False)
class Scene:
    """A backend's output: the full canvas (RGB) before the original product and the copy go on top."""

    image: Image.Image | None  # None only when `error` says why this request got no scene
    meta: Mapping[str, Any] = field(default_factory=dict)  # model ids, steps, scheduler, timings
    error: str | None = None  # e.g. GPU out of memory even alone: that variant's error, not the batch's


@dataclass(frozen=True, eq=False, kw_only=True)
class Poster:
    """A finished poster and everything needed to check it and to turn it into a training sample."""

    row: SkuRow
    variant: int
    seed: int
    image: Image.Image  # final RGB
    background: Image.Image | None  # scene before product and text (InnoComposer style image); None if not kept
    subject_mask: np.ndarray  # HxW uint8 on the canvas, the intended product mask
    subject_layer: Image.Image  # RGBA canvas-size product layer that was pasted
    layout: Layout
    style: Style
    meta: Mapping[str, Any] = field(default_factory=dict)
    logo: Image.Image | None = None  # the logo as drawn (RGBA, the size of layout.logo); None without one

    @property
    def name(self) -> str:
        return f"{self.row.sku}-v{self.variant}"


Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One QA measurement turned into a verdict."""

    name: str  # e.g. "text.sen_acc", "subject.iou"
    value: float | None
    status: Status
    reason: str = ""  # filled when status != pass; names the line/region at fault


@dataclass(frozen=True)
class QAResult:
    status: Status
    checks: tuple[Check, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. per-line OCR text

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if c.status != "pass" and c.reason]

    @property
    def metrics(self) -> dict[str, float | None]:
        return {c.name: c.value for c in self.checks}


ItemStatus = Literal["pass", "warn", "fail", "error", "skipped"]


@dataclass(frozen=True, kw_only=True)
class ItemResult:
    """One poster written (or one item that failed before a poster existed) — a row of the report."""

    sku: str
    variant: int | None
    status: ItemStatus  # QA verdict; "error" = render/extraction error; "skipped" = not rendered, no verdict
    image: Path | None = None  # OUT/<sku>/<sku>-v<k>.png
    sidecar: Path | None = None  # OUT/<sku>/<sku>-v<k>.json
    error: str | None = None  # one line, for status == "error"
    qa: QAResult | None = None
    seconds: float = 0.0
    where: str = ""  # manifest file:row
    resumed: bool = False  # finished in an earlier run with the same inputs; status is that run's verdict
    subject_method: str | None = None  # extractor that made the product mask
    subject_note: str | None = None  # why the auto chain fell back, if it did
    log: Path | None = None  # OUT/logs/<sku>.log: the full traceback of an error
    campaign: str | None = None  # the campaign whose reference the poster was scored against
    regraded: bool = False  # pixels unchanged since an earlier run; only QA settings/code changed: re-graded
    rejudged: bool = False  # (regraded too) only re-judgeable limits changed: stored measurements judged again
    replanned: bool = False  # --replan: its layout was planned again with this code and compared with the stored one
    layout_changed: bool = False  # --replan: that plan differed, so the poster was rendered again
    fault: str | None = None  # a fault of the run, not of this SKU (disk full, read-only, I/O error): the
    #                           runner stops dispatching; the SKU is not an error row, the next run redoes it
