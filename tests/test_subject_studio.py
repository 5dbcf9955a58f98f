"""`studio` step of the auto chain (subject.studio_fast_path): classical answers a plain-backdrop photo when its
mask is trusted; a scene, a distrusted mask or the setting off leave the chain as it was (saliency answers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.errors import ConfigError, ExtractionError
from ecomctl.qa.metrics import iou
from ecomctl.subject import check_settings, extract_subject, extract_subjects
from ecomctl.subject.confidence import Confidence
from ecomctl.subject.studio import StudioStep
from tests.backdrops import flatten_over
from tests.conftest import ROOT
from tests.extract_scenes import scene

ON = {"studio_fast_path": True}
ASSETS = ROOT / "manifests" / "assets"


@pytest.fixture(autouse=True)
def _isolated_rembg_home(tmp_path: Path, monkeypatch):
    """The bundled U²-Net-p answers when saliency runs, never the developer's ~/.u2net."""
    home = tmp_path / "u2net-home"
    home.mkdir()
    monkeypatch.setenv("U2NET_HOME", str(home))


@pytest.fixture(scope="module")
def studio_shot() -> tuple[Image.Image, np.ndarray]:
    """A committed packshot on a grey studio sweep with a soft shadow, and its true mask."""
    packshot = Image.open(ASSETS / "809702153676.png")
    truth = np.asarray(Image.open(ASSETS / "masks" / "809702153676.png"))
    return flatten_over(packshot, "sweep", 0.3, 1.0, seed=3), truth


def test_studio_shot_takes_the_fast_path_and_records_why(studio_shot):
    photo, truth = studio_shot
    subject = extract_subject(photo, "product", "auto", ON)
    assert subject.method == "classical"  # what made the mask
    assert "studio: plain backdrop" in subject.note and "classical confidence 1.00" in subject.note
    assert subject.note.startswith("alpha: image has no transparency")  # the chain's earlier reasons stay
    assert subject.confidence >= 0.9 and subject.confidence_why is None
    assert iou(subject.mask, truth) >= 0.98


def test_committed_studio_jpeg_takes_the_fast_path():
    subject = extract_subject(Image.open(ASSETS / "809702153676-paper.jpg"), "product", "auto", ON)
    truth = np.asarray(Image.open(ASSETS / "masks" / "809702153676.png"))
    assert subject.method == "classical" and "studio: plain backdrop" in subject.note
    assert iou(subject.mask, truth) >= 0.98


def test_cluttered_scene_falls_through_to_saliency_with_the_reason():
    fx = scene(4)  # a street behind the product: no backdrop model fits its frame
    subject = extract_subject(fx.image, "product", "auto", ON)
    assert subject.method == "saliency"
    assert "studio: frame is not a plain backdrop" in subject.note
    assert iou(subject.mask, fx.truth) >= 0.95


def test_distrusted_classical_mask_falls_through_to_saliency(studio_shot, monkeypatch):
    import ecomctl.subject.confidence as confidence

    monkeypatch.setattr(confidence, "score_mask", lambda *a, **k: Confidence(0.5, "mask is in 9 pieces", {}))
    subject = extract_subject(studio_shot[0], "product", "auto", ON)
    assert subject.method == "saliency"
    assert "studio: classical mask confidence 0.50 < 0.90 (mask is in 9 pieces)" in subject.note


def test_setting_off_is_the_old_chain(studio_shot, monkeypatch):
    def never(*a, **k):
        raise AssertionError("the studio step ran with studio_fast_path off")

    monkeypatch.setattr(StudioStep, "extract", never)
    for settings in ({}, {"studio_fast_path": False}):
        subject = extract_subjects([studio_shot[0]], ["product"], "auto", settings)[0]
        assert subject.method == "saliency" and "studio" not in subject.note


def test_explicit_method_ignores_the_setting(studio_shot):
    subject = extract_subject(studio_shot[0], "product", "classical", ON)
    assert subject.method == "classical" and subject.note is None


def test_gate_decides_before_classical_runs(monkeypatch):
    from ecomctl.subject.classical import ClassicalExtractor

    def never(*a, **k):
        raise AssertionError("classical ran on a frame that is no backdrop")

    monkeypatch.setattr(ClassicalExtractor, "extract", never)
    with pytest.raises(ExtractionError, match=r"frame is not a plain backdrop \(\d+\.\d% matches, need 99%\)"):
        StudioStep({}).extract(Image.fromarray(_checker()), "product")


def _checker() -> np.ndarray:
    """A frame that is all pattern: nothing about it is a backdrop."""
    yy, xx = np.mgrid[0:256, 0:256]
    return (((yy // 16 + xx // 16) % 2) * 200 + 20).astype(np.uint8)[..., None].repeat(3, axis=2)


@pytest.mark.parametrize("section,message", [
    ({"studio_fast_path": "yes"}, "subject.studio_fast_path: 'yes' is not true or false"),
    ({"studio": {"min_confidence": 2}}, "min_confidence in \\[0, 1\\]"),
    ({"studio": {"min_backdop": 0.9}}, "config subject.studio: unknown key\\(s\\) min_backdop"),
])
def test_bad_settings_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        check_settings({"method": "auto", **section})
