"""Colour maths for legible copy, shared by the typesetter and QA: sRGB linearisation, WCAG relative
luminance and contrast ratio (one definition: what the typesetter guarantees is what QA measures)."""

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
