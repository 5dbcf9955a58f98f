"""Typeset stage, the brand's logo: trimmed to its ink, scaled into the layout's logo box, and given a light or
dark plate when it would not stand out from the scene under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ecomctl.text.blocks import logo_plate_pad
from ecomctl.text.colour import contrast_ratios, luminance, luminance_u8
from ecomctl.types import RGB, Box, Plate, Size

LOGO_CONTRAST = 3.0  # WCAG's ratio for graphics: below it (most of the logo against the scene) a plate goes under
_PLATES: tuple[RGB, ...] = ((255, 255, 255), (17, 17, 17))


def load_logo(path: Path, where: str = "") -> Image.Image:
    """The logo file as RGBA, trimmed to what it draws (transparent margins cut), so its box is its ink.
    Raises InputImageError with one line naming the row for a file that is not a readable image."""
    from ecomctl.errors import InputImageError
    from ecomctl.io import open_image

    try:
        img = open_image(path)
    except InputImageError as e:
        raise InputImageError(f"{where}: logo: {e}" if where else f"logo: {e}") from None
    rgba = img.convert("RGBA")
    box = rgba.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    if box is None:
        raise InputImageError(f"{where}: logo: {path.name} is fully transparent" if where
                              else f"logo: {path.name} is fully transparent")
    return rgba.crop(box)


def logo_layer(logo: Image.Image, box: Box) -> Image.Image:
    """The logo scaled to the box (RGBA, box size): what the poster gets and what QA compares the box with."""
    return logo.resize((max(1, box.w), max(1, box.h)), Image.Resampling.LANCZOS)


def _ink(layer: Image.Image) -> np.ndarray:
    """Relative luminance of the logo's solid pixels (alpha >= 50%)."""
    rgba = np.asarray(layer.convert("RGBA"))
    solid = rgba[..., 3] >= 128
    return luminance_u8(rgba[..., :3][solid]) if solid.any() else np.zeros(1)


def _stands_out(ink: np.ndarray, ground: float) -> float:
    """The contrast most of the logo has against a ground of luminance `ground` (its 25th percentile)."""
    return float(np.percentile(contrast_ratios(ink, ground), 25))


def logo_plate(scene: np.ndarray, box: Box, layer: Image.Image, style_plate: RGB) -> Plate | None:
    """A plate under the logo when most of it has less than LOGO_CONTRAST against the scene there (a dark
    logo on a dark scene, a white one on a light scene); its colour is the one the logo stands out on best."""
    h, w = scene.shape[:2]
    b = box.clip(Size(w, h))
    region = scene[b.y0:b.y1, b.x0:b.x1].reshape(-1, 3)
    if not len(region):
        return None
    ink = _ink(layer)
    ground = float(np.median(luminance_u8(region)))
    if _stands_out(ink, ground) >= LOGO_CONTRAST:
        return None
    colour = max((style_plate, *_PLATES), key=lambda c: _stands_out(ink, float(luminance(c))))
    return Plate("logo", box.expand(logo_plate_pad(box.h)), colour, "band")
