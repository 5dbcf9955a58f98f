"""Synthetic catalog backdrops (plain, grey sweep, tinted paper, soft shadow) for flattening packshots.

Used by the extraction tests, the benchmark and tools/make_flat_assets.py to turn a transparent
packshot into the kind of photo real catalogs bring, with the true mask known. Deterministic per seed.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

RGBf = tuple[float, float, float]


def plain(h: int, w: int, rng: np.random.Generator, color: RGBf = (250, 250, 250)) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.float32), (h, w, 3)).copy()


def sweep(h: int, w: int, rng: np.random.Generator, top: float = 240, bottom: float = 188) -> np.ndarray:
    """Studio grey sweep: light at the top, a smooth fall-off towards the floor, slight side vignette."""
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    grey = top + (bottom - top) * (t * t * (3 - 2 * t)) - 10 * x * x
    return np.repeat(grey[..., None], 3, axis=2) * np.array([1.0, 1.0, 1.015], np.float32)


def paper(h: int, w: int, rng: np.random.Generator, tint: RGBf = (238, 226, 204)) -> np.ndarray:
    """Tinted paper: warm base colour, low-frequency mottling and fine grain."""
    low = cv2.resize(rng.normal(0, 1, (8, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 1.2, (h, w)).astype(np.float32)
    return np.array(tint, np.float32) + (3 * low + grain)[..., None]


def drop_shadow(base: np.ndarray, alpha: np.ndarray, strength: float = 0.35, rng=None) -> np.ndarray:
    """Darken `base` with a soft shadow cast down-right by the product (`alpha` in 0..1)."""
    h, w = alpha.shape
    off = max(4, round(0.03 * min(h, w)))
    m = np.float32([[1, 0, off * 0.6], [0, 1, off]])
    cast = cv2.warpAffine(alpha, m, (w, h))
    cast = cv2.GaussianBlur(cast, (0, 0), 0.02 * min(h, w) + 2)
    return base * (1 - strength * cast)[..., None]


BACKDROPS: dict[str, Callable[..., np.ndarray]] = {"plain": plain, "sweep": sweep, "paper": paper}


def flatten_over(
    packshot: Image.Image, backdrop: str = "plain", shadow: float = 0.0, noise: float = 0.0, seed: int = 0
) -> Image.Image:
    """Alpha-blend an RGBA packshot over a synthetic backdrop (optionally shadowed and noisy) → RGB."""
    rng = np.random.default_rng(seed)
    rgba = np.asarray(packshot.convert("RGBA"), dtype=np.float32)
    a = rgba[..., 3] / 255.0
    h, w = a.shape
    bg = BACKDROPS[backdrop](h, w, rng)
    if shadow > 0:
        bg = drop_shadow(bg, a, shadow)
    out = bg * (1 - a[..., None]) + rgba[..., :3] * a[..., None]
    if noise > 0:
        out = out + rng.normal(0, noise, out.shape).astype(np.float32)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")
