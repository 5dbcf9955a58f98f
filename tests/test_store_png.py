"""The write stage's PNG encoder: the fast path round-trips every pixel exactly and is used where it should be."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ecomctl.store.files import FAST_PNG_LEVEL, _fpng, _libpng_fast, encode_image, encode_png_fast


def _random_image(mode: str, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"L": None, "RGB": 3, "RGBA": 4}[mode]
    shape = (37, 53) if channels is None else (37, 53, channels)
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    arr[:10] = 0  # flat rows and a gradient too, the content posters have
    ramp = np.linspace(0, 255, arr.shape[1]).astype(np.uint8)
    arr[10:20] = ramp if channels is None else ramp[:, None]
    return Image.fromarray(arr, mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_fast_png_round_trips_every_pixel(mode):
    img = _random_image(mode)
    data = encode_image(img, ".png", compress_level=FAST_PNG_LEVEL)
    assert data == encode_png_fast(img)  # the fast path was taken
    with Image.open(io.BytesIO(data)) as back:
        assert back.format == "PNG" and back.mode == mode and back.size == img.size
        assert np.array_equal(np.asarray(back), np.asarray(img))


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_both_fast_encoders_round_trip(mode):
    """fpng (RGB/RGBA) and the libpng RLE path (masks, and colour where fpng is missing) are both lossless."""
    img = _random_image(mode, seed=1)
    if mode != "L":
        pytest.importorskip("fpng", reason="fpng is a declared dependency: pip install -e . installs it")
    encoded = [_libpng_fast(img)] + ([_fpng(img)] if mode != "L" else [])
    assert all(encoded)
    for data in encoded:
        with Image.open(io.BytesIO(data)) as back:
            assert back.mode == mode and np.array_equal(np.asarray(back), np.asarray(img))
    if mode != "L":
        assert encode_png_fast(img) == _fpng(img)  # fpng is declared, so it is the one used


def test_other_levels_and_modes_use_pillow_as_asked():
    img = _random_image("RGB")
    for params in ({"compress_level": 6}, {}, {"compress_level": 1, "optimize": True}):
        data = encode_image(img, ".png", **params)
        buf = io.BytesIO()
        img.save(buf, format="PNG", **params)
        assert data == buf.getvalue()
    pal = img.convert("P")
    with Image.open(io.BytesIO(encode_image(pal, ".png", compress_level=FAST_PNG_LEVEL))) as back:
        assert back.mode == "P" and np.array_equal(np.asarray(back.convert("RGB")), np.asarray(pal.convert("RGB")))
    assert encode_image(img, ".jpg", quality=80)[:2] == b"\xff\xd8"
