"""`compose` backend (CPU, no weights): scene from a style preset or reference image, with contact shadow."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from ecomctl.io import open_image
from ecomctl.render import BACKENDS
from ecomctl.types import Box, Layout, Scene, SceneRequest, Style


def _gradient(style: Style, w: int, h: int) -> np.ndarray:
    """The style's gradient (read-only, cached per style and size: variants and SKUs share it)."""
    return _gradient_cached(style.background, style.gradient, w, h)


@lru_cache(maxsize=32)
def _gradient_cached(background: tuple, gradient: str, w: int, h: int) -> np.ndarray:
    arr = _draw_gradient(background, gradient, w, h)
    arr.setflags(write=False)
    return arr


def _draw_gradient(background: tuple, gradient: str, w: int, h: int) -> np.ndarray:
    """The gradient as float (h, w, 3), possibly a read-only broadcast view. `t` (0..1 along the gradient)
    is computed on the smallest grid it varies on (a column for linear) and each pixel is blended from its
    two stops with the same arithmetic as a full-size gather, so the pixels are the same, in ~1/20 the time."""
    stops = np.asarray(background, dtype=np.float32)
    if len(stops) == 1 or gradient == "flat":
        return np.broadcast_to(stops[0], (h, w, 3)).copy()
    if gradient == "radial":
        xx = np.arange(w, dtype=np.float32)[None, :]
        yy = np.arange(h, dtype=np.float32)[:, None]
        t = np.hypot((xx - w * 0.62) / w, (yy - h * 0.45) / h) / 0.75
    else:
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    t = np.clip(t, 0, 1) * (len(stops) - 1)
    i = np.minimum(t.astype(int), len(stops) - 2)
    f = (t - i)[..., None]
    if len(stops) == 2:  # i is 0 everywhere: no per-pixel gather of the stops
        out = stops[0] * (1 - f) + stops[1] * f
    else:
        out = stops[i] * (1 - f) + stops[i + 1] * f
    return np.broadcast_to(out, (h, w, 3))


def _textured(style: Style, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Gradient + texture; the textures that use no random numbers are cached per style and size."""
    if style.texture in ("grain", "paper"):
        return _texture(style, _gradient(style, w, h), rng)
    return _plain_cached(style, w, h)


@lru_cache(maxsize=32)
def _plain_cached(style: Style, w: int, h: int) -> np.ndarray:
    arr = _texture(style, _gradient(style, w, h), np.random.default_rng(0))
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    arr.setflags(write=False)
    return arr


def _texture(style: Style, arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = arr.shape
    if style.texture == "grain":
        arr = arr + rng.normal(0, 2.2, (h, w, 1))
    elif style.texture == "paper":
        fibre = rng.normal(0, 1, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
        fibre = np.asarray(Image.fromarray(fibre).resize((w, h), Image.Resampling.BICUBIC))
        arr = arr + fibre[..., None] * 4.0 + rng.normal(0, 1.5, (h, w, 1))
    elif style.texture in ("dots", "lines"):
        step = max(18, min(w, h) // 28)
        yy, xx = np.mgrid[0:h, 0:w]
        if style.texture == "dots":
            mark = ((xx % step - step / 2) ** 2 + (yy % step - step / 2) ** 2) < (step * 0.09) ** 2
        else:
            mark = ((xx + yy) % step) < max(1, step // 14)
        lum = arr.mean(-1, keepdims=True)
        tint = np.where(lum > 128, -10.0, 12.0)
        arr = arr + mark[..., None] * tint
    return arr


def _region(bounds: tuple[float, float, float, float], margin: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer box around float `bounds` grown by `margin` (the reach of a blur), clipped to the canvas."""
    x0, y0, x1, y1 = bounds
    w, h = size
    return (max(0, int(x0) - margin), max(0, int(y0) - margin), min(w, int(x1) + 2 + margin),
            min(h, int(y1) + 2 + margin))


def _tint_paste(img: Image.Image, region: tuple[int, int, int, int], layer: Image.Image, colour: tuple) -> None:
    """Paint `colour` through the region-sized mask `layer` (work stays inside the region: same pixels)."""
    x0, y0, x1, y1 = region
    img.paste(Image.new("RGB", (x1 - x0, y1 - y0), colour), (x0, y0), layer)


def _shape_bounds(style: Style, w: int, h: int, box: Box, rng: np.random.Generator) -> list:
    """(kind, float box) primitives of the decorative shape, drawn in canvas coordinates."""
    cx, cy = box.center
    r = max(box.w, box.h) * (0.56 + 0.06 * rng.random())
    if style.shape == "circle":
        return [("ellipse", (cx - r, cy - r, cx + r, cy + r), 0)]
    if style.shape == "arch":
        return [("rounded", (cx - r * 0.8, cy - r, cx + r * 0.8, h + r), int(r * 0.8))]
    if style.shape == "band":
        return [("rect", (0, box.y0 + box.h * 0.72, w, min(h, box.y1 + box.h * 0.12)), 0)]
    prims = []  # blob: a few overlapping ellipses
    for _ in range(4):
        dx, dy = rng.uniform(-0.35, 0.35, 2) * r
        rr = r * rng.uniform(0.55, 0.8)
        prims.append(("ellipse", (cx + dx - rr, cy + dy - rr, cx + dx + rr, cy + dy + rr), 0))
    return prims


def _shape(style: Style, img: Image.Image, box: Box, rng: np.random.Generator) -> None:
    """A soft decorative shape behind the product (circle, arch, band, blob) in a tint of the accent.

    Drawn and blurred only over the shape's own region (plus the blur's reach), not the whole canvas."""
    if style.shape == "none":
        return
    w, h = img.size
    bg = np.asarray(style.background[0], dtype=np.float32)
    tint = tuple(int(v) for v in bg * 0.82 + np.asarray(style.accent, dtype=np.float32) * 0.18)
    prims = _shape_bounds(style, w, h, box, rng)
    bounds = (min(p[1][0] for p in prims), min(p[1][1] for p in prims),
              max(p[1][2] for p in prims), max(p[1][3] for p in prims))
    x0, y0, x1, y1 = region = _region(bounds, 16, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    layer = Image.new("L", (x1 - x0, y1 - y0), 0)
    d = ImageDraw.Draw(layer)
    for kind, (a, b, c, e), radius in prims:
        xy = (a - x0, b - y0, c - x0, e - y0)
        if kind == "ellipse":
            d.ellipse(xy, fill=255)
        elif kind == "rounded":
            d.rounded_rectangle(xy, radius=radius, fill=255)
        else:
            d.rectangle(xy, fill=255)
    _tint_paste(img, region, layer.filter(ImageFilter.GaussianBlur(2)), tint)


def _mix(a: tuple, b: tuple, t: float) -> tuple[int, int, int]:
    """`a` moved a share `t` towards `b` (RGB)."""
    return tuple(round(x * (1 - t) + y * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _podium(style: Style, img: Image.Image, layout: Layout) -> None:
    """A round podium under the product: a lit top ellipse at the product's base over a shaded drum."""
    box, (w, h) = layout.subject_box, img.size
    rx = box.w * 0.62
    ry = max(6.0, rx * 0.16)
    cx, top = box.center[0], box.y1 - ry * 0.55
    drum = max(8.0, min(h, w) * 0.045)
    base = style.background[-1]
    side = _mix(_mix(base, style.accent, 0.22), (0, 0, 0), 0.16)
    lid = _mix(_mix(style.background[0], style.accent, 0.10), (255, 255, 255), 0.35)
    layer = Image.new("RGB", img.size, side)
    mask = Image.new("L", img.size, 0)
    d = ImageDraw.Draw(mask)
    d.ellipse((cx - rx, top + drum - ry, cx + rx, top + drum + ry), fill=255)
    d.rectangle((cx - rx, top, cx + rx, top + drum), fill=255)
    img.paste(layer, (0, 0), mask.filter(ImageFilter.GaussianBlur(1)))
    lid_mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(lid_mask).ellipse((cx - rx, top - ry, cx + rx, top + ry), fill=255)
    img.paste(Image.new("RGB", img.size, lid), (0, 0), lid_mask.filter(ImageFilter.GaussianBlur(1)))


def _frame(style: Style, img: Image.Image, layout: Layout) -> None:
    """A sale frame: a band in the accent colour round the canvas, inside the copy's margin, with a hairline."""
    w, h = img.size
    short = min(w, h)
    inset, band = round(short * 0.018), max(4, round(short * 0.016))
    d = ImageDraw.Draw(img)
    radius = round(short * 0.03)
    d.rounded_rectangle((inset, inset, w - 1 - inset, h - 1 - inset), radius=radius, outline=style.accent,
                        width=band)
    gap = inset + band + max(3, round(short * 0.008))
    d.rounded_rectangle((gap, gap, w - 1 - gap, h - 1 - gap), radius=max(1, radius - band), outline=style.accent,
                        width=max(1, short // 600))


def _diagonal(style: Style, img: Image.Image, layout: Layout) -> None:
    """A panel behind the copy with a slanted edge towards the product, in a deep tint of the style's text
    colour: from the left edge to past the copy (a column beside the product), or, when the copy sits above
    the product (a tall canvas), from the top to below it. The edge clears every line, plate and the logo by
    a pad along its whole slant."""
    w, h = img.size
    boxes = [t.box for t in layout.lines] + [p.box for p in layout.plates]
    if layout.logo is not None:
        boxes.append(layout.logo)
    if not boxes:
        return
    pad, slant = round(min(w, h) * 0.04), round(min(w, h) * 0.12)
    product = layout.subject_box
    if max(b.y1 for b in boxes) <= product.y0:  # the copy above the product: a band on top, deeper on the left
        left = max(b.y1 + pad + slant * b.x1 / w for b in boxes)
        points = [(0, 0), (w, 0), (w, left - slant), (0, left)]
    else:  # a column on the left, wider at the top
        top = max(b.x1 + pad + slant * b.y1 / h for b in boxes)
        points = [(0, 0), (top, 0), (top - slant, h), (0, h)]
    ImageDraw.Draw(img).polygon(points, fill=_mix(style.text, style.background[0], 0.08))


# scenery that belongs to a layout template rather than to a style (keyed by Layout.template)
_STAGES = {"podium": _podium, "framed": _frame, "diagonal": _diagonal}


def _shadow(img: Image.Image, req: SceneRequest) -> None:
    """Contact shadow: a blurred ellipse at the product's base plus a faint blurred silhouette
    (drawn and blurred over the product's region plus the blur's reach only)."""
    box = req.layout.subject_box
    w, h = img.size
    rx, ry = box.w * 0.46, max(6, box.h * 0.035)
    cx, cy = box.center[0], box.y1 - ry * 0.4
    dx, dy = int(box.w * 0.02), int(box.h * 0.02)
    blur = max(4, min(w, h) // 90)
    bounds = (min(cx - rx, box.x0 + dx), min(cy - ry, box.y0 + dy), max(cx + rx, box.x1 + dx), max(cy + ry, box.y1 + dy))
    x0, y0, x1, y1 = region = _region(bounds, 4 * blur + 4, (w, h))
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(mask).ellipse((cx - rx - x0, cy - ry - y0, cx + rx - x0, cy + ry - y0), fill=120)
    alpha = req.subject_layer.getchannel("A").crop((x0 - dx, y0 - dy, x1 - dx, y1 - dy))
    sil = alpha.point(lambda a: a * 35 // 255)
    mask.paste(sil, (0, 0), sil)
    dark = tuple(int(c * 0.35) for c in req.style.background[-1])
    _tint_paste(img, region, mask.filter(ImageFilter.GaussianBlur(blur)), dark)


def _reference(style: Style, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Style reference image: its palette and light (cover-fit, heavily blurred and lightened so product and
    copy read on it) and its texture (grain as strong as the reference's fine detail; none on a flat one)."""
    src = open_image(style.reference).convert("RGB")
    ref = ImageOps.fit(src, size, Image.Resampling.LANCZOS)
    ref = ref.filter(ImageFilter.GaussianBlur(max(size) // 40))
    img = Image.blend(ref, Image.new("RGB", size, style.background[0]), 0.35)
    grain = _grain(src)
    if grain < 0.8:
        return img
    w, h = size
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, grain, (h, w, 1)).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _grain(src: Image.Image) -> float:
    """Strength of a picture's fine texture: robust spread (MAD) of its grey detail layer, capped at 6."""
    grey = src.convert("L")
    grey.thumbnail((512, 512))
    detail = np.asarray(grey, np.float32) - np.asarray(grey.filter(ImageFilter.GaussianBlur(1.5)), np.float32)
    return float(min(6.0, 1.4826 * np.median(np.abs(detail - np.median(detail)))))


class ComposeBackend:
    name = "compose"

    def __init__(self, settings: dict[str, Any], device: str):
        self.settings = settings

    def unavailable(self) -> str | None:
        return None

    def describe(self) -> dict[str, Any]:
        # draws_text: the scene is gradients, textures and shapes (a reference image is blurred past
        # legibility), so QA's stray-text scan has nothing to find on it and is skipped
        return {"name": self.name, "models": {}, "steps": 0, "device": "cpu", "draws_text": False}

    def scene(self, req: SceneRequest) -> Image.Image:
        w, h = req.size.tuple
        rng = np.random.default_rng(req.seed)
        if req.style.reference is not None:
            img = _reference(req.style, (w, h), rng)
        else:
            arr = _textured(req.style, w, h, rng)
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
            # the podium is its band; the diagonal's panel is its graphic (a floor band under it crossed the
            # product a second time on a tall canvas)
            if not (req.style.shape == "band" and req.layout.template in ("podium", "diagonal")):
                _shape(req.style, img, req.layout.subject_box, rng)
        stage = _STAGES.get(req.layout.template)
        if stage is not None:
            stage(req.style, img, req.layout)
        _shadow(img, req)
        return img

    def render(self, requests: Sequence[SceneRequest]) -> list[Scene]:
        return [Scene(self.scene(r), {"backend": self.name}) for r in requests]


BACKENDS.add("compose", ComposeBackend)
