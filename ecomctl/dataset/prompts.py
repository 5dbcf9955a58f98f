"""Sample prompts: metadata first, else built from style / category words — never from the copy text."""

from __future__ import annotations

import numpy as np
from PIL import Image

_COLOURS = {
    "white": (240, 240, 240), "black": (20, 20, 20), "grey": (128, 128, 128), "red": (200, 40, 40),
    "orange": (230, 130, 40), "yellow": (230, 210, 60), "green": (60, 160, 80), "teal": (40, 150, 150),
    "blue": (50, 90, 200), "purple": (130, 70, 170), "pink": (230, 140, 180), "brown": (120, 80, 50),
    "beige": (220, 200, 170), "navy": (25, 35, 90), "light green": (185, 225, 160),
    "light blue": (170, 200, 235), "lavender": (190, 180, 230), "cream": (245, 235, 200),
    "dark green": (30, 70, 40), "dark red": (90, 20, 25), "charcoal": (50, 50, 55),
}


def colour_name(rgb: np.ndarray) -> str:
    names = list(_COLOURS)
    ref = np.array([_COLOURS[n] for n in names], float)
    return names[int(((ref - rgb.astype(float)) ** 2).sum(axis=1).argmin())]


def palette_words(style: Image.Image, k: int = 2) -> list[str]:
    """The k most common named colours of the style image (a coarse, deterministic description)."""
    small = np.asarray(style.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)).reshape(-1, 3)
    counts: dict[str, int] = {}
    for px in small:
        name = colour_name(px)
        counts[name] = counts.get(name, 0) + 1
    return [n for n, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def found_poster_prompt(subject: str, style: Image.Image) -> str:
    colours = " and ".join(palette_words(style))
    return f"an e-commerce advertising poster of a {subject}, {colours} background, clean product shot"


def render_prompt(manifest_prompt: str | None, style_name: str, style_prompt: str, subject: str) -> str:
    if manifest_prompt:
        return manifest_prompt
    scene = style_prompt or f"{style_name.replace('-', ' ')} style background"
    return f"an e-commerce advertising poster of a {subject}, {scene}"
