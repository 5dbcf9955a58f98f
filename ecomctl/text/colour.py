"""Colour maths for legible copy, shared by the typesetter and QA: sRGB linearisation, WCAG relative
luminance and contrast ratio (one definition: what the typesetter guarantees is what QA measures); CIE Lab
and palette ΔE, shared by QA's variant check and the preset walk that keeps variants apart."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ecomctl.types import RGB

_LUMA = np.array([0.2126, 0.7152, 0.0722])


def srgb_to_linear(rgb: RGB | np.ndarray) -> np.ndarray:
    """Linear-light values (0..1) of 0..255 sRGB values (IEC 61966-2-1 threshold 0.04045)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def luminance(rgb: RGB | np.ndarray) -> float | np.ndarray:
    """WCAG 2.x relative luminance of one colour (a float) or of an (..., 3) array of colours."""
    lum = srgb_to_linear(rgb) @ _LUMA
    return float(lum) if np.ndim(lum) == 0 else lum


_LINEAR_U8 = srgb_to_linear(np.arange(256))  # the same formula per 8-bit value, for whole regions


def luminance_u8(pixels: np.ndarray) -> np.ndarray:
    """Relative luminance of an (..., 3) uint8 array (a 256-entry table: same values as `luminance`)."""
    return _LINEAR_U8[pixels] @ _LUMA


def contrast_ratios(fg_lum: float | np.ndarray, bg_lum: float | np.ndarray) -> float | np.ndarray:
    """WCAG contrast ratio (1..21) from relative luminances; works element-wise on arrays."""
    hi, lo = np.maximum(fg_lum, bg_lum), np.minimum(fg_lum, bg_lum)
    return (hi + 0.05) / (lo + 0.05)


def contrast(a: RGB | np.ndarray, b: RGB | np.ndarray) -> float:
    """WCAG contrast ratio (1..21) between two sRGB colours."""
    return float(contrast_ratios(luminance(a), luminance(b)))


def best_text_colour(background: RGB, candidates: Iterable[RGB]) -> RGB:
    """The candidate with the highest contrast against `background`."""
    return max(candidates, key=lambda c: contrast(c, background))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of an (..., 3) array of 0..255 sRGB values."""
    lin = srgb_to_linear(rgb)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def palette_distance(p: tuple[np.ndarray, np.ndarray], q: tuple[np.ndarray, np.ndarray]) -> float:
    """Symmetric weighted mean of each colour's ΔE76 to the nearest colour of the other palette."""
    (ca, wa), (cb, wb) = p, q
    d = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=-1)
    return float((wa @ d.min(axis=1) + wb @ d.min(axis=0)) / 2)
