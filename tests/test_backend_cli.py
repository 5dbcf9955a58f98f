"""`ecomctl render --backend B` end to end on tiny saved models for every diffusion backend: exit codes,
deterministic posters, product pixels exact in the final poster; absent weights exit 2 with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import make_product, write_manifest
from tests.tiny_models import NAMES, tiny_settings

pytest.importorskip("diffusers")
runner = CliRunner()


def _setup(tmp_path: Path, name: str) -> tuple[Path, Path]:
    make_product(tmp_path / "a.png", (120, 160))
    manifest = write_manifest(tmp_path / "m.csv", [
        {"sku": "A1", "image": "a.png", "title": "Travel Mug", "price": "$24", "size": "256x256",
         "variants": "2"}])
    cfg = {"qa": {"text": {"enabled": False}}, "render": {"device": "cpu"}, "text": {"min_font_size": 8},
           "backends": {name: {**tiny_settings(name), "max_side": 128}}}
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return manifest, config


def _placed_product(tmp_path: Path, out: Path, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Variant k's product layer exactly as placed: the extracted cutout resized into the box that the
    written canvas mask (`.subject.png`) occupies."""
    from ecomctl.render.paste import place_subject
    from ecomctl.subject import extract_subject
    from ecomctl.types import Box, Size

    mask = np.asarray(Image.open(out / "A1" / f"A1-v{k}.subject.png"))
    ys, xs = np.nonzero(mask)
    box = Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    subject = extract_subject(Image.open(tmp_path / "a.png"), "product", "auto", {})  # as the runner does
    layer = place_subject(subject, box, Size(mask.shape[1], mask.shape[0]))
    assert np.array_equal(np.asarray(layer.getchannel("A")), mask)  # same placement as the run's
    return np.asarray(layer.convert("RGB")), mask


@pytest.mark.models
@pytest.mark.parametrize("name", NAMES)
def test_render_backend_end_to_end(tmp_path: Path, name: str):
    manifest, config = _setup(tmp_path, name)
    out, again = tmp_path / "out", tmp_path / "again"
    res = runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(config),
                              "--backend", name, "--keep-layers"])
    assert res.exit_code in (0, 1), res.output  # 1 only if QA failed an image, never a render error
    assert "error" not in res.stdout.split("posters in")[0], res.stdout
    side = yaml.safe_load((out / "A1" / "A1-v1.json").read_text())  # JSON is YAML
    assert side["backend"]["name"] == name and side["backend"]["models"]
    assert side["backend"]["timesteps"] and side["backend"]["scheduler"]  # the schedule the call ran
    if name == "sdxs":  # prompt-only: an empty setting, never the product (it would draw a second one)
        assert "product" not in side["backend"]["prompt"] and "empty display scene" in side["backend"]["prompt"]
    else:
        assert "a product standing in the scene" in side["backend"]["prompt"]
    assert runner.invoke(app, ["render", str(manifest), "--out", str(again), "--config", str(config),
                               "--backend", name]).exit_code == res.exit_code
    for k in (1, 2):
        product, alpha = _placed_product(tmp_path, out, k)
        inside = alpha == 255
        assert inside.sum() > 1000
        poster = np.asarray(Image.open(out / "A1" / f"A1-v{k}.png").convert("RGB"))
        assert poster.shape[:2] == (256, 256)
        assert np.array_equal(poster[inside], product[inside])  # the product is never redrawn
        assert np.array_equal(poster, np.asarray(Image.open(again / "A1" / f"A1-v{k}.png").convert("RGB")))
    scenes = [np.asarray(Image.open(out / "A1" / f"A1-v{k}.bg.png").convert("RGB")) for k in (1, 2)]
    assert not np.array_equal(*scenes)  # variants get their own seeds


def test_render_with_absent_weights_exits_2_with_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    make_product(tmp_path / "a.png")
    manifest = write_manifest(tmp_path / "m.csv", [{"sku": "A1", "image": "a.png", "title": "Mug"}])
    res = runner.invoke(app, ["render", str(manifest), "--out", str(tmp_path / "o"), "--backend", "sdxs"])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    expected = ("error: backend 'sdxs' unavailable: model IDKiro/sdxs-512-0.9 (backends.sdxs.model) is not "
                "downloaded; fetch it with `ecomctl models pull sdxs` or set "
                "backends.sdxs.model to a local folder")
    assert lines == [expected]
