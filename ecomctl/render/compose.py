"""`compose` backend (CPU, no weights): scene from a style preset or reference image, with contact shadow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from ecomctl.render import BACKENDS
from ecomctl.types import Box, Scene, SceneRequest, Style


def _gradient(style: Style, w: int, h: int) -> np.ndarray:
    stops = np.asarray(style.background, dtype=np.float32)
    if len(stops) == 1 or style.gradient == "flat":
        return np.broadcast_to(stops[0], (h, w, 3)).copy()
    if style.gradient == "radial":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = np.hypot((xx - w * 0.62) / w, (yy - h * 0.45) / h) / 0.75
    else:
        t = np.broadcast_to(np.linspace(0, 1, h, dtype=np.float32)[:, None], (h, w))
    t = np.clip(t, 0, 1) * (len(stops) - 1)
    i = np.minimum(t.astype(int), len(stops) - 2)
    f = (t - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


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


def _shape(style: Style, img: Image.Image, box: Box, rng: np.random.Generator) -> None:
    """A soft decorative shape behind the product (circle, arch, band, blob) in a tint of the accent."""
    if style.shape == "none":
        return
    w, h = img.size
    bg = np.asarray(style.background[0], dtype=np.float32)
    tint = tuple(int(v) for v in bg * 0.82 + np.asarray(style.accent, dtype=np.float32) * 0.18)
    layer = Image.new("L", img.size, 0)
    d = ImageDraw.Draw(layer)
    cx, cy = box.center
    r = max(box.w, box.h) * (0.56 + 0.06 * rng.random())
    if style.shape == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    elif style.shape == "arch":
        d.rounded_rectangle((cx - r * 0.8, cy - r, cx + r * 0.8, h + r), radius=int(r * 0.8), fill=255)
    elif style.shape == "band":
        d.rectangle((0, box.y0 + box.h * 0.72, w, min(h, box.y1 + box.h * 0.12)), fill=255)
    else:  # blob: a few overlapping ellipses
        for _ in range(4):
            dx, dy = rng.uniform(-0.35, 0.35, 2) * r
            rr = r * rng.uniform(0.55, 0.8)
            d.ellipse((cx + dx - rr, cy + dy - rr, cx + dx + rr, cy + dy + rr), fill=255)
    layer = layer.filter(ImageFilter.GaussianBlur(2))
    img.paste(Image.new("RGB", img.size, tint), (0, 0), layer)


def _shadow(img: Image.Image, req: SceneRequest) -> None:
    """Contact shadow: a blurred ellipse at the product's base plus a faint blurred silhouette."""
    box = req.layout.subject_box
    w, h = img.size
    mask = Image.new("L", img.size, 0)
    d = ImageDraw.Draw(mask)
    rx, ry = box.w * 0.46, max(6, box.h * 0.035)
    cx, cy = box.center[0], box.y1 - ry * 0.4
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=120)
    sil = req.subject_layer.getchannel("A").point(lambda a: a * 35 // 255)
    mask.paste(sil, (int(box.w * 0.02), int(box.h * 0.02)), sil)
    mask = mask.filter(ImageFilter.GaussianBlur(max(4, min(w, h) // 90)))
    dark = tuple(int(c * 0.35) for c in req.style.background[-1])
    img.paste(Image.new("RGB", img.size, dark), (0, 0), mask)


def _reference(style: Style, size: tuple[int, int]) -> Image.Image:
    """Style reference image: cover-fit, heavily blurred and lightened so product and copy read on it."""
    ref = ImageOps.fit(Image.open(style.reference).convert("RGB"), size, Image.Resampling.LANCZOS)
    ref = ref.filter(ImageFilter.GaussianBlur(max(size) // 40))
    return Image.blend(ref, Image.new("RGB", size, style.background[0]), 0.35)


class ComposeBackend:
    name = "compose"

    def __init__(self, settings: dict[str, Any], device: str):
        self.settings = settings

    def unavailable(self) -> str | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "models": {}, "steps": 0, "device": "cpu"}

    def scene(self, req: SceneRequest) -> Image.Image:
        w, h = req.size.tuple
        rng = np.random.default_rng(req.seed)
        if req.style.reference is not None:
            img = _reference(req.style, (w, h))
        else:
            arr = _texture(req.style, _gradient(req.style, w, h), rng)
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
            _shape(req.style, img, req.layout.subject_box, rng)
        _shadow(img, req)
        return img

    def render(self, requests: Sequence[SceneRequest]) -> list[Scene]:
        return [Scene(self.scene(r), {"backend": self.name}) for r in requests]


BACKENDS.add("compose", ComposeBackend)
