"""Odd things given as a product photo: a symlink loop, a FIFO, a folder or a device as `image` (one line each
at validation, never a hang), and 16-bit, 32-bit and float images (scaled to 8 bits, not clipped)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.errors import InputImageError
from ecomctl.io import open_image
from tests.conftest import make_product

runner = CliRunner()
FAST = "qa:\n  text:\n    enabled: false\nrender:\n  variants: 1\n  size: 256x256\n"


def _config(tmp: Path) -> Path:
    (tmp / "fast.yaml").write_text(FAST, encoding="utf-8")
    return tmp / "fast.yaml"


# ------------------------------------------------------------------------------------- odd files as image

@pytest.mark.timeout(60)
def test_odd_files_as_image_are_one_line_each_and_never_hang(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    os.symlink("loop.png", tmp_path / "loop.png")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "shots.png").mkdir()
    path = tmp_path / "m.csv"
    path.write_text("sku,image,title\nL,loop.png,t\nF,pipe.png,t\nD,shots.png,t\nN,/dev/null,t\nOK,p.png,t\n",
                    encoding="utf-8")
    for command in (["validate", str(path)], ["render", str(path), "--out", str(tmp_path / "out")]):
        res = runner.invoke(app, command)
        assert res.exit_code == 2, res.output
        assert res.stderr.splitlines() == [
            f"error: {path}:2:2: image: a symlink loop, not a file: loop.png",
            f"error: {path}:3:2: image: a named pipe (FIFO), not a file: pipe.png",
            f"error: {path}:4:2: image: a folder, not a file: shots.png",
            f"error: {path}:5:2: image: a device, not a file: /dev/null",
        ]
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(60)
def test_odd_files_as_manifest_are_one_line(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "m.csv")
    (tmp_path / "d.csv").mkdir()
    os.symlink("l.csv", tmp_path / "l.csv")
    for name, kind in (("m.csv", "a named pipe (FIFO)"), ("d.csv", "a folder"), ("l.csv", "a symlink loop")):
        res = runner.invoke(app, ["validate", str(tmp_path / name)])
        assert (res.exit_code, res.stderr.splitlines()) == (2, [f"error: {tmp_path / name}: {kind}, not a file"])


@pytest.mark.timeout(30)
def test_open_image_refuses_a_fifo_without_opening_it(tmp_path: Path) -> None:
    """The file can change between validation and the SKU's turn: the opener checks again, by stat."""
    os.mkfifo(tmp_path / "late.png")
    with pytest.raises(InputImageError, match=r"^cannot read image late\.png: a named pipe \(FIFO\), not a file$"):
        open_image(tmp_path / "late.png")


# ------------------------------------------------------------------------------ 16-bit, 32-bit, float photos

def _grey(tmp: Path) -> np.ndarray:
    make_product(tmp / "src.png", (200, 260), alpha=False)
    return np.asarray(Image.open(tmp / "src.png").convert("L"))


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    grey = _grey(tmp_path)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    got = open_image(tmp_path / "g16.png")
    assert got.mode == "L" and np.array_equal(np.asarray(got), grey)


@pytest.mark.parametrize(("name", "mode", "scale"), [("i32.tif", "I", 65536.0), ("f01.tif", "F", 1 / 255),
                                                     ("f255.tif", "F", 1.0)])
def test_32_bit_and_float_images_are_scaled(tmp_path: Path, name: str, mode: str, scale: float) -> None:
    grey = _grey(tmp_path)
    data = grey.astype(np.float64) * scale
    Image.fromarray(data.astype(np.int32 if mode == "I" else np.float32)).save(tmp_path / name)
    assert Image.open(tmp_path / name).mode == mode
    got = np.asarray(open_image(tmp_path / name), dtype=np.int16)
    expect = grey.astype(np.int16)
    if mode == "I":  # stretched from its own range onto 0..255
        lo, hi = float(grey.min()), float(grey.max())
        expect = np.rint((grey - lo) * (255 / (hi - lo))).astype(np.int16)
    assert np.abs(got - expect).max() <= 1


def test_16_bit_rgb_png_keeps_its_colours(tmp_path: Path) -> None:
    make_product(tmp_path / "src.png", (200, 260), alpha=False)
    rgb = np.asarray(Image.open(tmp_path / "src.png").convert("RGB"))
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb[..., ::-1].astype(np.uint16) * 257)  # OpenCV writes BGR
    got = open_image(tmp_path / "rgb16.png")
    assert got.mode == "RGB" and np.array_equal(np.asarray(got), rgb)


@pytest.mark.parametrize("kind", ["grey16", "rgb16"])
def test_16_bit_pngs_render(tmp_path: Path, kind: str) -> None:
    make_product(tmp_path / "src.png", (300, 400), alpha=False)
    src = Image.open(tmp_path / "src.png")
    if kind == "grey16":
        Image.fromarray(np.asarray(src.convert("L")).astype(np.uint16) * 257).save(tmp_path / "p.png")
    else:
        bgr = np.asarray(src.convert("RGB"))[..., ::-1]
        cv2.imwrite(str(tmp_path / "p.png"), bgr.astype(np.uint16) * 257)
    (tmp_path / "m.csv").write_text("sku,image,title\nA,p.png,Night Serum\n", encoding="utf-8")
    res = runner.invoke(app, ["render", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out"),
                              "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert "pass    A-v1" in res.stdout.splitlines()
    mask = np.asarray(Image.open(tmp_path / "out" / "A" / "A.mask.png").convert("L")) > 127
    assert 0.15 < mask.mean() < 0.6  # the bottle was found, not the whole (white) frame or nothing
