"""The compose scene, paste-back and colour choice work on regions and caches: same pixels as whole-canvas work."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from ecomctl.render import compose
from ecomctl.render.paste import paste_subject
from ecomctl.text.colour import luminance
from ecomctl.text.typeset import _region_luminance, _worst_contrast
from ecomctl.types import Box, Layout, SceneRequest, Size, SkuRow, Style
from tests._qa_posters import product_layer

SIZE = Size(320, 256)
BOX = Box(150, 60, 290, 250)


def _request(style: Style, seed: int = 3) -> SceneRequest:
    row = SkuRow(sku="S", image=__file__, title="t", size=SIZE)  # type: ignore[arg-type]
    layout = Layout(SIZE, "split-left", BOX, ())
    return SceneRequest(row, 1, seed, style, layout, product_layer(SIZE, BOX), "", "")


def _whole_canvas_scene(req: SceneRequest) -> Image.Image:
    """The scene drawn the straightforward way: every layer canvas-sized (the reference)."""
    style, (w, h) = req.style, SIZE.tuple
    rng = np.random.default_rng(req.seed)
    arr = compose._texture(style, compose._draw_gradient(style.background, style.gradient, w, h), rng)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if style.shape != "none":
        bg = np.asarray(style.background[0], dtype=np.float32)
        tint = tuple(int(v) for v in bg * 0.82 + np.asarray(style.accent, dtype=np.float32) * 0.18)
        layer = Image.new("L", img.size, 0)
        d = ImageDraw.Draw(layer)
        for kind, xy, radius in compose._shape_bounds(style, w, h, BOX, rng):
            {"ellipse": d.ellipse, "rect": d.rectangle}.get(kind, lambda xy, fill, radius=radius: d.rounded_rectangle(
                xy, radius=radius, fill=fill))(xy, fill=255)
        img.paste(Image.new("RGB", img.size, tint), (0, 0), layer.filter(ImageFilter.GaussianBlur(2)))
    mask = Image.new("L", img.size, 0)
    rx, ry = BOX.w * 0.46, max(6, BOX.h * 0.035)
    cx, cy = BOX.center[0], BOX.y1 - ry * 0.4
    ImageDraw.Draw(mask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=120)
    sil = req.subject_layer.getchannel("A").point(lambda a: a * 35 // 255)
    mask.paste(sil, (int(BOX.w * 0.02), int(BOX.h * 0.02)), sil)
    mask = mask.filter(ImageFilter.GaussianBlur(max(4, min(w, h) // 90)))
    img.paste(Image.new("RGB", img.size, tuple(int(c * 0.35) for c in style.background[-1])), (0, 0), mask)
    return img


@pytest.mark.parametrize("shape,texture,gradient", [
    ("circle", "grain", "radial"), ("blob", "grain", "linear"), ("arch", "dots", "radial"),
    ("circle", "lines", "radial"), ("band", "paper", "linear"), ("none", "none", "flat"),
])
def test_scene_equals_whole_canvas_drawing(shape, texture, gradient):
    style = Style("s", ((250, 240, 225), (200, 170, 150)), gradient, texture, shape=shape)  # type: ignore[arg-type]
    req = _request(style)
    backend = compose.ComposeBackend({}, "cpu")
    for _ in range(2):  # the second call is served from the per-style caches
        got = np.asarray(backend.scene(req))
        assert np.array_equal(got, np.asarray(_whole_canvas_scene(req)))
    other = np.asarray(backend.scene(replace(req, seed=4)))
    seeded = texture in ("grain", "paper") or shape != "none"  # noise and shape sizes follow the seed
    assert seeded == (not np.array_equal(other, got))


def test_paste_equals_whole_canvas_composite():
    scene = Image.fromarray(np.random.default_rng(1).integers(0, 255, (SIZE.h, SIZE.w, 3), dtype=np.uint8))
    layer = product_layer(SIZE, BOX)
    expected = Image.alpha_composite(scene.convert("RGBA"), layer).convert("RGB")
    assert np.array_equal(np.asarray(paste_subject(scene, layer)), np.asarray(expected))
    assert np.array_equal(np.asarray(paste_subject(scene, Image.new("RGBA", SIZE.tuple))), np.asarray(scene))


def test_table_luminance_and_contrast_match_the_formula():
    rgb = np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    box = Box(5, 7, 50, 33)
    lum = _region_luminance(rgb, box)
    direct = luminance(rgb[7:33, 5:50].reshape(-1, 3))
    assert np.array_equal(lum, direct)
    colour = (17, 17, 17)
    lc = float(luminance(colour))
    ratio = (np.maximum(direct, lc) + 0.05) / (np.minimum(direct, lc) + 0.05)
    assert _worst_contrast(lum, colour) == float(np.percentile(ratio, 5))
    assert _worst_contrast(_region_luminance(rgb, Box(70, 70, 80, 80)), colour) == 21.0
