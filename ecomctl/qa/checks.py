"""QA pixel checks on the final image: subject fidelity (IoU, PSNR, SSIM), layout (overlap, margins, WCAG
contrast) and image sanity (finite, not blank, size, mode)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ecomctl.outcome import worst
from ecomctl.qa.metrics import contrast_ratio, iou, psnr, same_inside, ssim
from ecomctl.qa.registry import Sample, judge, status
from ecomctl.qa.text import line_labels
from ecomctl.qa.thresholds import ImageThresholds, LayoutThresholds, SubjectThresholds
from ecomctl.types import Check, Poster, Size

_ALPHA = np.arange(256, dtype=np.float32) / 255.0  # alpha byte → 0..1, the values a float32 division gives


def expected_product(poster: Poster, box: tuple[int, int, int, int] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(expected RGB, alpha 0..1, output RGB, background known): the product layer over the scene.

    With the scene before paste known, the expected pixels are the exact feathered composite. Without it
    (a background that is missing or equals the final image under the product) only the product's colours
    are known, and the soft edge gets a slack proportional to its transparency. Only the pixels the product
    touches say whether the scene is known, so `ecomctl qa` (which has the scene under the product from the
    store) measures exactly what render measured. With `box` (x0, y0, x1, y1) the arrays cover that box
    only (it must hold every pixel the product layer touches).
    """
    expected, alpha, out8, known = _composite(poster, box)
    return expected, alpha, out8.astype(np.float32), known


def _composite(poster: Poster, box: tuple[int, int, int, int] | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """expected_product with the output as uint8 (check_subject needs both forms; float32 of uint8 is exact,
    so the scene test is made on the bytes)."""
    def part(img: Image.Image) -> Image.Image:
        return img if box is None else img.crop(box)

    out8 = np.asarray(part(poster.image).convert("RGB"))
    layer = part(poster.subject_layer).convert("RGBA")
    rgba = np.asarray(layer)
    alpha = _ALPHA[rgba[..., 3]]
    bg_img = poster.background
    known = bg_img is not None and bg_img.size == poster.image.size
    bg8 = np.asarray(part(bg_img).convert("RGB")) if known else out8
    touched = rgba[..., 3] > 0  # only the pixels under the product say whether the scene is known
    known = known and not same_inside(bg8, out8, touched)
    prod = rgba[..., :3].astype(np.float32)
    if known:
        a = alpha[..., None]
        expected = a * prod + (1 - a) * bg8.astype(np.float32)
    else:
        expected = prod
    return expected, alpha, out8, known


def _product_box(poster: Poster, intended: np.ndarray, margin: int = 9) -> tuple[int, int, int, int]:
    """The box holding every pixel of the intended mask and of the pasted layer (its alpha > 0), grown by
    `margin` (the context SSIM's window looks at around the mask), clipped to the canvas."""
    boxes = [poster.subject_layer.getchannel("A").getbbox()]
    ys, xs = np.nonzero(np.any(intended, axis=1))[0], np.nonzero(np.any(intended, axis=0))[0]
    boxes.append((int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1))
    boxes = [b for b in boxes if b]
    w, h = poster.image.size
    return (max(0, min(b[0] for b in boxes) - margin), max(0, min(b[1] for b in boxes) - margin),
            min(w, max(b[2] for b in boxes) + margin), min(h, max(b[3] for b in boxes) + margin))


def check_subject(poster: Poster, t: SubjectThresholds) -> tuple[list[Check], dict[str, Any]]:
    """IoU of the intended mask with the product re-found in the output; PSNR/SSIM inside the mask.

    Measured on the box around the product (intended mask ∪ pasted layer): nothing outside it can be
    found or intended, so the figures are those of the whole canvas."""
    intended = poster.subject_mask > 127
    if intended.shape != (poster.image.height, poster.image.width) or poster.subject_layer.size != poster.image.size:
        why = "subject mask/layer size differs from the image"
        return [Check("subject.iou", None, "fail", why)], {}
    if not intended.any():
        return [Check("subject.iou", None, "fail", "the intended subject mask is empty")], {}
    box = _product_box(poster, intended)
    expected, alpha, out8, known = _composite(poster, box)
    intended = intended[box[1]:box[3], box[0]:box[2]]
    slack = 0.0 if known else (1.0 - alpha) * 255.0
    d = np.abs(out8.astype(np.float32) - expected)
    diff = np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2])  # max over RGB, without a 3-wide reduction
    found = (alpha >= 0.5) & (diff <= t.tolerance + slack)
    region = intended & (alpha >= (0.5 if known else 0.98))
    exp8 = np.clip(np.rint(expected), 0, 255).astype(np.uint8)
    # judged as stored (rounded): a limits-only change re-judges them from the sidecar (qa/rejudge.py)
    v_iou, v_psnr, v_ssim = (round(iou(found, intended), 4), round(psnr(out8, exp8, region), 2),
                             round(ssim(out8, exp8, region), 4))
    checks = subject_checks(v_iou, v_psnr, v_ssim, t)
    return checks, {"background_known": known, "intended_px": int(intended.sum()), "found_px": int(found.sum())}


def subject_checks(v_iou: float, v_psnr: float, v_ssim: float, t: SubjectThresholds) -> list[Check]:
    """subject.iou/psnr/ssim of the (rounded) measurements against their limits."""
    return [
        judge("subject.iou", v_iou, t, f"product re-found on {v_iou:.1%} (IoU)", 4),
        judge("subject.psnr", v_psnr, t, f"product PSNR {v_psnr:.1f} dB", 2),
        judge("subject.ssim", v_ssim, t, f"product SSIM {v_ssim:.3f}", 4),
    ]


def check_mask_confidence(poster: Poster, t: SubjectThresholds) -> list[Check]:
    """The extractor's confidence in the product mask (IoU above only checks the paste-back, not that the
    mask is the product): a low one warns or fails with the weakest evidence as the reason."""
    subject = poster.meta.get("subject") or {}
    value = subject.get("confidence")
    if value is None:  # sidecars written before confidences existed: nothing to judge
        return []
    why = subject.get("confidence_why") or "weak evidence"
    text = f"{subject.get('method')} mask confidence {value:.2f}"
    check = judge("subject.confidence", float(value), t, text, 3)
    reason = f"{check.reason} ({why}): the mask may not be the product" if check.reason else ""
    return [Check(check.name, check.value, check.status, reason)]


def local_background(rgb: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """Median colour of the pixels in a line's box least like the text colour (between the glyphs)."""
    px = rgb.reshape(-1, 3)
    dist = np.abs(px.astype(np.int16) - np.asarray(color, np.int16))  # integers: the float32 sums are exact too
    d = (dist[:, 0] + dist[:, 1] + dist[:, 2]).astype(np.float32)
    px = px.astype(np.float32)
    far = px[d >= np.percentile(d, 60)]
    return np.median(far if len(far) else px, axis=0)


def check_layout(poster: Poster, t: LayoutThresholds, rgb: np.ndarray | None = None
                 ) -> tuple[list[Check], dict[str, Any]]:
    """Per line: share of its box on the product, distance to the canvas edge, WCAG contrast (`rgb`: the
    poster as an RGB array, when the caller already has it)."""
    lines = poster.layout.lines
    if not lines:
        return [], {}
    rgb = poster_rgb(poster) if rgb is None else rgb
    h, w = rgb.shape[:2]
    size, short_side, mask = Size(w, h), min(w, h), poster.subject_mask > 127
    rows = []
    for label, line in zip(line_labels(lines), lines):
        b = line.box.clip(size)
        inside = b.area > 0
        overlap = float(mask[b.y0:b.y1, b.x0:b.x1].mean()) if inside and mask.shape == (h, w) else 0.0
        margin = min(line.box.x0, line.box.y0, w - line.box.x1, h - line.box.y1) / short_side
        bg = local_background(rgb[b.y0:b.y1, b.x0:b.x1], line.color) if inside else np.zeros(3)
        rows.append({"label": label, "overlap": round(overlap, 4), "margin": round(margin, 4),
                     "contrast": round(contrast_ratio(line.color, bg), 2), "background": [int(v) for v in bg]})
    return [overlap_check(rows, t), margin_check(rows, t), contrast_check(rows, t)], {"lines": rows}


def _per_line(rows: list[dict[str, Any]], statuses: list[str], fmt: str) -> str:
    return "; ".join(fmt.format(**r) for r, s in zip(rows, statuses) if s != "pass")


def overlap_check(rows: list[dict[str, Any]], t: LayoutThresholds) -> Check:
    st = [status("layout.overlap", r["overlap"], t) for r in rows]
    why = _per_line(rows, st, "{label} covers the product ({overlap:.0%} of its box)")
    return Check("layout.overlap", max(r["overlap"] for r in rows), worst(st), why)  # type: ignore[arg-type]


def margin_check(rows: list[dict[str, Any]], t: LayoutThresholds) -> Check:
    st = [status("layout.margin", r["margin"], t) for r in rows]
    why = _per_line(rows, st, "{label} is {margin:.1%} from the canvas edge")
    return Check("layout.margin", min(r["margin"] for r in rows), worst(st), why)  # type: ignore[arg-type]


def contrast_check(rows: list[dict[str, Any]], t: LayoutThresholds) -> Check:
    st = [status("layout.contrast", r["contrast"], t) for r in rows]
    why = _per_line(rows, st, "{label} contrast {contrast:.2f}:1 on {background}")
    return Check("layout.contrast", min(r["contrast"] for r in rows), worst(st), why)  # type: ignore[arg-type]


def poster_rgb(poster: Poster) -> np.ndarray:
    """The poster as an HxWx3 uint8 array: made once per poster and shared by every QA check."""
    return np.asarray(poster.image if poster.image.mode == "RGB" else poster.image.convert("RGB"))


def check_image(poster: Poster, t: ImageThresholds, rgb: np.ndarray | None = None) -> list[Check]:
    """Finite pixels, not blank/flat, size and mode as requested."""
    img = poster.image
    checks = []
    finite = bool(np.isfinite(np.asarray(img)).all()) if img.mode in ("F", "I") else True  # only float images hold NaN
    checks.append(Check("image.finite", 1.0 if finite else 0.0, "pass" if finite else "fail",
                        "" if finite else "image has NaN/inf pixels"))
    rgb = poster_rgb(poster) if rgb is None else rgb  # uint8: no NaN to clean
    std = float((rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).std())
    px = rgb.reshape(-1, 3)
    quant = (px[:: max(1, len(px) // 65536)] >> 3).astype(np.int32)  # every k-th pixel, ~65k of them
    codes = (quant[:, 0] << 10) | (quant[:, 1] << 5) | quant[:, 2]  # one int per 15-bit colour: a histogram
    counts = np.bincount(codes, minlength=1 << 15)
    share = float(counts.max() / counts.sum())
    blank = std < t.flat_std or share >= t.dominant_share
    why = f"image is blank/flat (grey std {std:.1f}, one colour covers {share:.1%})" if blank else ""
    checks.append(Check("image.flat", round(std, 2), "fail" if blank else "pass", why))
    want = poster.row.size
    ok = (img.width, img.height) == (want.w, want.h)
    checks.append(Check("image.size", 1.0 if ok else 0.0, "pass" if ok else "fail",
                        "" if ok else f"size {img.width}x{img.height}, requested {want}"))
    ok = img.mode == t.mode
    checks.append(Check("image.mode", 1.0 if ok else 0.0, "pass" if ok else "fail",
                        "" if ok else f"mode {img.mode}, expected {t.mode}"))
    return checks


# the measurers ecomctl/qa/registry.py names (one Sample in, the checks and their details out)
def measure_image(s: Sample) -> list[Check]:
    return check_image(s.poster, s.t.image, s.rgb)


def measure_subject(s: Sample) -> tuple[list[Check], dict[str, Any]]:
    return check_subject(s.poster, s.t.subject)


def measure_confidence(s: Sample) -> list[Check]:
    return check_mask_confidence(s.poster, s.t.subject)


def measure_layout(s: Sample) -> tuple[list[Check], dict[str, Any]]:
    return check_layout(s.poster, s.t.layout, s.rgb)
