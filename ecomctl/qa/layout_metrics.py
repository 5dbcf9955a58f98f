"""QA layout metrics of the content-aware poster-layout literature (PosterLayout, CVPR 2023; RALF, CVPR 2024;
PosterO, CVPR 2025), measured per poster from its layout boxes, the product layer and the final image.

Elements, as those papers annotate a poster: one *text* element per copy block (the lines of a wrapped title
are one text box), one *underlay* per backing plate (price tag, badge pill, contrast band), and the *logo*
when the layout has one. The product is not an element: it is the canvas content, and its layer's alpha
stands in for the saliency map those papers compute with BASNet/PFPN/ISNet. Definitions (see
docs/layout-metrics.md, with the directions and the published figures):

  val    share of elements whose box covers at least 0.1% of the canvas                          higher better
  ove    mean IoU over ordered pairs of non-underlay elements (None with fewer than two)         lower better
  ali    mean over elements of -log10(1 - d), d the smallest gap of any of its six coordinates
         (left, centre x, right / top, centre y, bottom, as canvas fractions) to another's       lower better
  und_l  mean over underlays of the largest share of one non-underlay element inside it           higher better
  und_s  share of underlays that hold a whole non-underlay element (None without underlays)       higher better
  uti    share of the non-salient canvas, sum(1 - s), that the elements' union covers            higher better
  occ    mean saliency s under the union of the elements                                         lower better
  rea    mean Sobel gradient (|∇| / max |∇| of the image) under text and not under underlays     lower better

Rea is measured on the final poster with the copy's own ink left out (pixels within 2 px of a pixel of the
line's colour), so what remains is the scene between and around the glyphs — the canvas the papers measure,
known to `ecomctl qa` from the stored poster alone (no clean background layer needed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ecomctl.types import Box, Check, Layout, Poster, Size

if TYPE_CHECKING:
    from ecomctl.qa.registry import Sample

NAMES = ("val", "ove", "ali", "und_l", "und_s", "uti", "occ", "rea")
MIN_AREA = 1e-3  # an element under 0.1% of the canvas is not valid (PosterLayout's validity)
INK_TOLERANCE = 48  # a pixel within this of the line's colour (max over RGB) is the line's ink
INK_REACH = 2  # the ink grown by this many px: anti-aliased glyph edges and the Sobel window


@dataclass(frozen=True)
class Element:
    kind: str  # text | underlay | logo
    box: Box
    color: tuple[int, int, int] | None = None  # a text element's ink colour


def elements(layout: Layout) -> list[Element]:
    """The layout as the papers annotate a poster: copy blocks (text), plates (underlay), the logo."""
    blocks: dict[int, list[Any]] = {}
    for line in layout.lines:
        blocks.setdefault(line.block, []).append(line)
    out = [Element("text", _union([t.box for t in group]), group[0].color) for _, group in sorted(blocks.items())]
    out += [Element("underlay", p.box) for p in layout.plates if p.kind != "dot"]  # list bullets: ornament
    logo = getattr(layout, "logo", None)
    if isinstance(logo, Box):
        out.append(Element("logo", logo))
    return out


def _union(boxes: list[Box]) -> Box:
    return Box(min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes), max(b.y1 for b in boxes))


def box_iou(a: Box, b: Box) -> float:
    inter = a.intersection(b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def validity(els: list[Element], size: Size) -> float | None:
    if not els:
        return None
    canvas = size.w * size.h
    return sum(e.box.clip(size).area / canvas >= MIN_AREA for e in els) / len(els)


def overlay(els: list[Element]) -> float | None:
    """Mean IoU over every ordered pair (i ≠ j) of non-underlay elements (RALF's and PosterO's Ove)."""
    boxes = [e.box for e in els if e.kind != "underlay"]
    n = len(boxes)
    if n < 2:
        return None
    total = sum(box_iou(boxes[i], boxes[j]) for i in range(n) for j in range(n) if i != j)
    return total / (n * (n - 1))


def alignment(els: list[Element], size: Size) -> float | None:
    """LayoutGAN++'s alignment as RALF and PosterO compute it: per element, the smallest distance of any of
    its six coordinates (as canvas fractions) to the same coordinate of another element, through
    g(d) = -log10(1 - d); the mean over elements."""
    if len(els) < 2:
        return None
    coords = np.array([_coords(e.box, size) for e in els])  # n × 6
    n = len(els)
    scores = []
    for i in range(n):
        d = np.abs(np.delete(coords, i, axis=0) - coords[i]).min()
        scores.append(-math.log10(1.0 - min(float(d), 1.0 - 1e-12)))
    return float(sum(scores) / n)


def _coords(b: Box, size: Size) -> tuple[float, ...]:
    c = b.clip(size)
    x0, x1, y0, y1 = c.x0 / size.w, c.x1 / size.w, c.y0 / size.h, c.y1 / size.h
    return (x0, (x0 + x1) / 2, x1, y0, (y0 + y1) / 2, y1)


def underlay(els: list[Element]) -> tuple[float | None, float | None]:
    """(Und_l, Und_s): per underlay, the largest share of one non-underlay element's box that lies inside it
    (loose) and whether some non-underlay element lies wholly inside it (strict); means over underlays."""
    unders = [e.box for e in els if e.kind == "underlay"]
    others = [e.box for e in els if e.kind != "underlay"]
    if not unders:
        return None, None
    loose, strict = [], []
    for u in unders:
        shares = [u.intersection(o) / o.area for o in others if o.area > 0]
        loose.append(max(shares, default=0.0))
        strict.append(1.0 if any(s >= 1.0 for s in shares) else 0.0)
    return sum(loose) / len(loose), sum(strict) / len(strict)


def saliency_map(poster: Poster) -> np.ndarray:
    """The product layer's alpha (HxW uint8, 255 = product) — the saliency map the papers take from a detector."""
    return np.asarray(poster.subject_layer.getchannel("A"))


def _cover(boxes: list[Box], frame: Box) -> np.ndarray:
    """The union of `boxes` as a mask over `frame` (a part of the canvas: the masks stay small)."""
    mask = np.zeros((frame.h, frame.w), dtype=bool)
    for b in boxes:
        x0, y0 = max(b.x0, frame.x0), max(b.y0, frame.y0)
        x1, y1 = min(b.x1, frame.x1), min(b.y1, frame.y1)
        if x1 > x0 and y1 > y0:
            mask[y0 - frame.y0:y1 - frame.y0, x0 - frame.x0:x1 - frame.x0] = True
    return mask


def _frame(boxes: list[Box], size: Size) -> Box | None:
    """The canvas part holding every box (clipped), None when they hold no pixel."""
    clipped = [c for c in (b.clip(size) for b in boxes) if c.area > 0]
    return _union(clipped) if clipped else None


def utility_occlusion(els: list[Element], alpha: np.ndarray, size: Size) -> tuple[float | None, float | None]:
    """(Uti, Occ) with saliency s = alpha / 255: share of the non-salient mass Σ(1 − s) under the elements'
    union; mean s under it. Integer sums of the alpha bytes: exact, whatever the order."""
    frame = _frame([e.box for e in els], size)
    if frame is None:
        return None, None
    cover = _cover([e.box for e in els], frame)
    n = int(np.count_nonzero(cover))
    salient = int(alpha[frame.y0:frame.y1, frame.x0:frame.x1][cover].sum(dtype=np.int64))
    free_total = 255 * alpha.size - int(alpha.sum(dtype=np.int64))
    uti = (255 * n - salient) / free_total if free_total > 0 else None
    return uti, salient / (255 * n)


def _magnitude(rgb: np.ndarray) -> np.ndarray:
    """|∇| of the grey image from 3×3 Sobel, float32 (the papers' sqrt((gx² + gy²) / 2) up to a factor that
    the normalisation by the maximum cancels)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def gradient(rgb: np.ndarray) -> np.ndarray:
    """The gradient magnitude divided by its maximum over the image (0..1)."""
    mag = _magnitude(rgb)
    top = float(mag.max())
    return mag / top if top > 0 else mag


def readability(els: list[Element], rgb: np.ndarray, size: Size) -> float | None:
    """Mean normalised gradient of the scene under text elements, not under underlays, off the copy's ink."""
    texts = [e for e in els if e.kind == "text"]
    frame = _frame([e.box for e in texts], size)
    if frame is None:
        return None
    region = _cover([e.box for e in texts], frame) & ~_cover([e.box for e in els if e.kind == "underlay"], frame)
    if not region.any():
        return None
    outer = frame.expand(INK_REACH).clip(size)  # the ink near the frame's edge reaches into it
    ink = np.zeros((outer.h, outer.w), dtype=np.uint8)
    for e in texts:
        c = e.box.clip(size).expand(INK_REACH).clip(size)
        if c.area == 0 or e.color is None:
            continue
        crop = rgb[c.y0:c.y1, c.x0:c.x1].astype(np.int16)
        near = np.abs(crop - np.asarray(e.color, np.int16)).max(axis=2) <= INK_TOLERANCE
        ink[c.y0 - outer.y0:c.y1 - outer.y0, c.x0 - outer.x0:c.x1 - outer.x0] |= near.astype(np.uint8)
    reach = 2 * INK_REACH + 1
    ink = cv2.dilate(ink, np.ones((reach, reach), np.uint8)).astype(bool)
    dx, dy = frame.x0 - outer.x0, frame.y0 - outer.y0
    region &= ~ink[dy:dy + frame.h, dx:dx + frame.w]
    if not region.any():
        return None
    mag = _magnitude(rgb)
    top = float(mag.max())
    if top <= 0:
        return 0.0
    under = mag[frame.y0:frame.y1, frame.x0:frame.x1][region]
    return float(under.mean(dtype=np.float64)) / top


def measure(poster: Poster, rgb: np.ndarray) -> dict[str, float | None]:
    """Every metric of NAMES for one poster (`rgb`: the final image as HxWx3 uint8)."""
    size = Size(rgb.shape[1], rgb.shape[0])
    els = elements(poster.layout)
    und_l, und_s = underlay(els)
    sal = saliency_map(poster)
    uti, occ = utility_occlusion(els, sal, size) if sal.shape == rgb.shape[:2] else (None, None)
    values = {"val": validity(els, size), "ove": overlay(els), "ali": alignment(els, size), "und_l": und_l,
              "und_s": und_s, "uti": uti, "occ": occ, "rea": readability(els, rgb, size)}
    return {k: None if v is None else round(v, 4) for k, v in values.items()}


def layout_metric_checks(poster: Poster, rgb: np.ndarray) -> tuple[list[Check], dict[str, Any]]:
    """The metrics as informational checks (`layout.<name>`, always pass: measurements, not verdicts — the
    product under copy already fails as layout.overlap) and the element count behind them."""
    values = measure(poster, rgb)
    kinds: dict[str, int] = {}
    for e in elements(poster.layout):
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return [Check(f"layout.{k}", v, "pass") for k, v in values.items()], {"elements": kinds}


def measure_layout_metrics(s: Sample) -> tuple[list[Check], dict[str, Any]]:
    """The registry's measurer (ecomctl/qa/registry.py)."""
    return layout_metric_checks(s.poster, s.rgb)
