"""`studio` step of the auto chain (subject.studio_fast_path, on by default): a plain-backdrop photo gets saliency's
zoomed pass seeded by the backdrop model (one network pass, no copy filter) when its mask is trusted; a scene,
a distrusted mask or the setting off leave the chain as it was (full saliency, two passes)."""

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


def _count_passes(monkeypatch) -> list[int]:
    """Counts saliency network passes (one entry per call)."""
    from ecomctl.subject import saliency

    calls: list[int] = []
    real = saliency.saliency_map

    def counted(session, rgb):
        calls.append(1)
        return real(session, rgb)

    monkeypatch.setattr(saliency, "saliency_map", counted)
    return calls


def test_studio_shot_takes_the_fast_path_and_records_why(studio_shot, monkeypatch):
    photo, truth = studio_shot
    passes = _count_passes(monkeypatch)
    subject = extract_subject(photo, "product", "auto", ON)
    assert subject.method == "saliency"  # what made the mask: saliency's zoomed pass
    assert "studio: plain backdrop" in subject.note and "seeded zoom pass, confidence 1.00" in subject.note
    assert subject.note.startswith("alpha: image has no transparency")  # the chain's earlier reasons stay
    assert subject.confidence >= 0.9 and subject.confidence_why is None
    assert len(passes) == 1  # the whole-photo pass is replaced by the backdrop seed
    assert iou(subject.mask, truth) >= 0.98


def test_committed_studio_jpeg_takes_the_fast_path_without_ocr(monkeypatch):
    from ecomctl.subject import saliency

    monkeypatch.setattr(saliency, "drop_copy", lambda *a, **k: pytest.fail("copy filter ran on a studio photo"))
    passes = _count_passes(monkeypatch)
    subject = extract_subject(Image.open(ASSETS / "749870344644-sweep.jpg"), "product", "auto", ON)
    truth = np.asarray(Image.open(ASSETS / "masks" / "749870344644.png"))
    assert subject.method == "saliency" and "seeded zoom pass" in subject.note
    assert len(passes) == 1
    assert iou(subject.mask, truth) >= 0.98  # a pair of phone cases: both kept


def test_fast_path_is_on_by_default():
    from ecomctl.config import load_config

    section = load_config(environ={}).subject.model_dump()
    assert section["studio_fast_path"] is True
    assert StudioStep(section).settings.mask == "saliency"


def test_classical_mask_on_request(studio_shot):
    subject = extract_subject(studio_shot[0], "product", "auto", {**ON, "studio": {"mask": "classical"}})
    assert subject.method == "classical"
    assert "studio: plain backdrop" in subject.note and "classical, confidence 1.00" in subject.note
    assert iou(subject.mask, studio_shot[1]) >= 0.95


def test_cluttered_scene_falls_through_to_saliency_with_the_reason(monkeypatch):
    fx = scene(4)  # a street behind the product: no backdrop model fits its frame
    passes = _count_passes(monkeypatch)
    subject = extract_subject(fx.image, "product", "auto", ON)
    assert subject.method == "saliency"
    assert "studio: frame is not a plain backdrop" in subject.note
    assert len(passes) == 2  # full saliency: whole photo + zoom
    assert iou(subject.mask, fx.truth) >= 0.95


def test_distrusted_seeded_mask_falls_through_to_full_saliency(studio_shot, monkeypatch):
    from ecomctl.subject import saliency

    real = saliency.score_mask
    seeded = []

    def low_when_seeded(mask, ev):  # the seeded call is the first: distrust it, keep full saliency's own
        seeded.append(1)
        return Confidence(0.5, "mask is in 9 pieces", {}) if len(seeded) == 1 else real(mask, ev)

    monkeypatch.setattr(saliency, "score_mask", low_when_seeded)
    subject = extract_subject(studio_shot[0], "product", "auto", ON)
    assert subject.method == "saliency" and len(seeded) == 2
    assert "studio: saliency mask confidence 0.50 < 0.90 (mask is in 9 pieces)" in subject.note
    assert "seeded zoom pass" not in subject.note
    assert iou(subject.mask, studio_shot[1]) >= 0.98


def test_seeded_pass_needs_the_zoom_refinement(studio_shot):
    subject = extract_subject(studio_shot[0], "product", "auto", {**ON, "saliency": {"refine": "none"}})
    assert subject.method == "saliency"
    assert "studio: a seeded pass needs subject.saliency.refine: zoom" in subject.note


def test_setting_off_is_the_old_chain(studio_shot, monkeypatch):
    def never(*a, **k):
        raise AssertionError("the studio step ran with studio_fast_path off")

    monkeypatch.setattr(StudioStep, "extract", never)
    passes = _count_passes(monkeypatch)
    for settings in ({}, {"studio_fast_path": False}):
        subject = extract_subjects([studio_shot[0]], ["product"], "auto", settings)[0]
        assert subject.method == "saliency" and "studio" not in subject.note
    assert len(passes) == 4  # two passes per photo, as before


def test_explicit_method_ignores_the_setting(studio_shot):
    subject = extract_subject(studio_shot[0], "product", "classical", ON)
    assert subject.method == "classical" and subject.note is None


def test_gate_decides_before_any_segmentation_runs(monkeypatch):
    from ecomctl.subject.classical import ClassicalExtractor
    from ecomctl.subject.saliency import SaliencyExtractor

    def never(*a, **k):
        raise AssertionError("an extractor ran on a frame that is no backdrop")

    monkeypatch.setattr(ClassicalExtractor, "extract", never)
    monkeypatch.setattr(SaliencyExtractor, "extract", never)
    with pytest.raises(ExtractionError, match=r"frame is not a plain backdrop \(\d+\.\d% matches, need 99%\)"):
        StudioStep({}).extract(Image.fromarray(_checker()), "product")


def _checker() -> np.ndarray:
    """A frame that is all pattern: nothing about it is a backdrop."""
    yy, xx = np.mgrid[0:256, 0:256]
    return (((yy // 16 + xx // 16) % 2) * 200 + 20).astype(np.uint8)[..., None].repeat(3, axis=2)


@pytest.mark.parametrize("section,message", [
    ({"studio_fast_path": "yes"}, "subject.studio_fast_path: 'yes' is not true or false"),
    ({"studio": {"min_confidence": 2}}, "min_confidence in \\[0, 1\\]"),
    ({"studio": {"zoom_pad": -1}}, "zoom_pad in \\[0, 2\\]"),
    ({"studio": {"mask": "grabcut"}}, "subject.studio.mask: 'grabcut' is not saliency or classical"),
    ({"studio": {"min_backdop": 0.9}}, "config subject.studio: unknown key\\(s\\) min_backdop"),
])
def test_bad_settings_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        check_settings({"method": "auto", **section})
