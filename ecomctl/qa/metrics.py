"""QA measurements as pure functions on arrays and strings: NED, IoU, PSNR, SSIM, WCAG, ΔE, palettes.

Text normalisation used by Sen.Acc and NED (both compare normalised strings):
  1. Unicode NFKC — full-width forms become half-width (Ａ１￥ → A1¥), compatibility variants fold;
  2. typographic variants fold to one symbol: quotes ‘’‚′ → ', “”„″ → ", the horizontal-stroke family
     (- ‐ ‑ ‒ – — ― − ー 一 ─) → -, middle dots (· • ・ ‧) → ·, tildes (〜 ～) → ~, ¥/￥/円 sign variants → ¥;
     these glyphs are drawn identically (or nearly) by CJK fonts, so pixels cannot tell them apart;
  3. case-folding;
  4. all whitespace removed — OCR drops or invents spaces between CJK glyphs and around symbols.
"""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np
from rapidfuzz.distance import Levenshtein

from ecomctl.text.colour import contrast as contrast_ratio  # noqa: F401 — QA's WCAG is the typesetter's
from ecomctl.text.colour import palette_distance, srgb_to_lab  # noqa: F401 — colour maths shared with render

_FOLD = str.maketrans({
    **dict.fromkeys("‘’‚′`´", "'"),
    **dict.fromkeys("“”„″〝〞", '"'),
    **dict.fromkeys("‐‑‒–—―−ー一─", "-"),
    **dict.fromkeys("•・‧∙", "·"),
    **dict.fromkeys("〜～", "~"),
    **dict.fromkeys("￥", "¥"),
})


def normalize_text(s: str) -> str:
    """The comparison form of a string (see the module docstring)."""
    s = unicodedata.normalize("NFKC", s).translate(_FOLD).casefold()
    return "".join(s.split())


def ned(pred: str, expected: str) -> float:
    """Normalised edit similarity 1 − Levenshtein / max(len) on normalised strings (1.0 = identical)."""
    a, b = normalize_text(pred), normalize_text(expected)
    if not a and not b:
        return 1.0
    return 1.0 - Levenshtein.distance(a, b) / max(len(a), len(b))


def exact(pred: str, expected: str) -> bool:
    return normalize_text(pred) == normalize_text(expected)


def iou(a: np.ndarray, b: np.ndarray, thresh: int = 127) -> float:
    """Intersection over union of two masks (1.0 when both are empty); boolean masks are used as they are,
    0..255 masks are binarised at `thresh`. The one IoU of the package (QA, extraction tests, benchmarks)."""
    ab = a if a.dtype == bool else a > thresh
    bb = b if b.dtype == bool else b > thresh
    union = int(np.logical_or(ab, bb).sum())
    return 1.0 if union == 0 else int(np.logical_and(ab, bb).sum()) / union


_SQUARES = np.arange(256, dtype=np.int32) ** 2  # |a-b|² of two uint8 values, by |a-b|
_LUMA_W = (0.299, 0.587, 0.114)
_LUMA_LUT = [np.arange(256, dtype=np.float64) * w for w in _LUMA_W]  # each channel's term of _luma, by value


def psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """PSNR in dB between two uint8 images over the pixels of a boolean region (capped at 99 for identical).

    The squared differences are integers, so their sum is exact in any order: summing them as integers
    (cv2.absdiff + a table of squares, no float copies of the region) gives the very float64 mean that
    np.mean over the float64 differences gives."""
    if not region.any():
        return 99.0
    if a.dtype == np.uint8 and b.dtype == np.uint8 and a.shape == b.shape:
        sq = _SQUARES[cv2.absdiff(a, b)]
        per_px = sq if sq.ndim == region.ndim else sum(sq[..., c] for c in range(1, sq.shape[-1])) + sq[..., 0]
        count = int(np.count_nonzero(region)) * (sq.size // per_px.size)
        mse = float(int(per_px[region].sum(dtype=np.int64))) / count
    else:
        diff = a[region].astype(np.float64) - b[region].astype(np.float64)
        mse = float(np.mean(diff * diff))
    return 99.0 if mse < 1e-10 else min(99.0, 10.0 * np.log10(255.0 ** 2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004, Gaussian window σ=1.5, on luma) over the pixels of a boolean region;
    pixels outside the region are taken from `a` in both images so they cannot lower the score."""
    if not region.any():
        return 1.0
    ys, xs = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    y0, y1, x0, x1 = max(0, ys[0] - 8), ys[-1] + 9, max(0, xs[0] - 8), xs[-1] + 9
    inside = region[y0:y1, x0:x1]
    if same_inside(a[y0:y1, x0:x1], b[y0:y1, x0:x1], inside):
        # both lumas are then equal on the whole crop (outside the region b is replaced by a), so numerator and
        # denominator below are the same float in every pixel and the map is exactly 1.0: skip the blurs
        return 1.0
    ga, gb = (_luma(img[y0:y1, x0:x1]) for img in (a, b))
    gb = np.where(inside, gb, ga)  # windows at the region's edge see the same context outside it
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    # ((2 μaμb + c1)(2 cov + c2)) / ((μa² + μb² + c1)(σa² + σb² + c2)) with every operation in that order (so
    # the same bits) but done in place, and μa², μb², μaμb made once though each is used twice
    mu_a, mu_b = blur(ga), blur(gb)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    num = 2 * mu_ab
    num += c1
    cov = blur(ga * gb)
    cov -= mu_ab
    cov *= 2
    cov += c2
    num *= cov
    den = mu_aa + mu_bb
    den += c1
    var = blur(ga * ga)
    var -= mu_aa
    var_b = blur(gb * gb)
    var_b -= mu_bb
    var += var_b
    var += c2
    den *= var
    num /= den
    return float(num[inside].mean())


def same_inside(a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> bool:
    """True when a and b hold the same value in every channel of every pixel of `inside`."""
    ne = a != b
    if ne.ndim == 3:
        ne = np.logical_or.reduce([ne[..., c] for c in range(ne.shape[-1])])
    return not np.any(ne & inside)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """0.299 R + 0.587 G + 0.114 B in float64; uint8 input through per-channel tables, which hold the very
    products the float formula computes, added in the same order (so the same bits, with no float copy)."""
    if rgb.dtype == np.uint8:
        r, g, b = (np.take(lut, rgb[..., i]) for i, lut in enumerate(_LUMA_LUT))
        r += g
        r += b
        return r
    x = rgb.astype(np.float64)
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def palette(rgb: np.ndarray, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dominant colours of an image: (k×3 Lab centres, k weights summing to 1), k-means on a 64-px thumbnail."""
    h, w = rgb.shape[:2]
    scale = 64 / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    lab = srgb_to_lab(small.reshape(-1, 3)).astype(np.float32)
    k = max(1, min(k, len(np.unique(small.reshape(-1, 3), axis=0))))
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5)
    _, labels, centres = cv2.kmeans(lab, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    weights = np.bincount(labels.ravel(), minlength=k).astype(np.float64)
    return centres.astype(np.float64), weights / weights.sum()
