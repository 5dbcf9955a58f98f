"""Colour maths for legible copy: WCAG relative luminance and contrast ratio, best text colour."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ecomctl.types import RGB


def luminance(rgb: RGB | np.ndarray) -> float | np.ndarray:
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def contrast(a: RGB, b: RGB) -> float:
    la, lb = float(luminance(a)), float(luminance(b))
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def best_text_colour(background: RGB, candidates: Iterable[RGB]) -> RGB:
    """The candidate with the highest contrast against `background`."""
    return max(candidates, key=lambda c: contrast(c, background))
