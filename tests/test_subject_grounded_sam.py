"""`grounded-sam` extractor: tiny random GroundingDINO + SAM through the real loading code; availability."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from ecomctl.errors import BackendUnavailable, ConfigError, ExtractionError
from ecomctl.subject import extract_subject, extract_subjects, get_extractor
from ecomctl.subject.grounded_sam import GroundedSamExtractor, _prompt_text

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tiny_grounded_sam import build_tiny_grounded_sam

    det, seg = build_tiny_grounded_sam(tmp_path_factory.mktemp("gsam"))
    # thresholds 0: random weights give arbitrary scores; we test the pipeline, not the detections
    return {"detector": str(det), "segmenter": str(seg), "box_threshold": 0.0, "text_threshold": 0.0}


def _photo(w: int = 120, h: int = 90) -> Image.Image:
    img = Image.new("RGB", (w, h), (245, 245, 245))
    img.paste((200, 40, 50), (w // 3, h // 4, 2 * w // 3, 3 * h // 4))
    return img


@pytest.mark.models
def test_tiny_pair_loads_and_masks_at_image_size(tiny):
    ex = GroundedSamExtractor(tiny)
    assert ex.unavailable() is None
    subject = ex.extract(_photo(), "perfume bottle")
    assert subject.method == "grounded-sam"
    assert subject.mask.shape == (90, 120) and subject.mask.dtype == np.uint8
    assert subject.image.size == (120, 90) and subject.bbox.area > 0


@pytest.mark.models
@pytest.mark.parametrize("policy", ["best", "union"])
def test_batched_many_images_one_result_each(tiny, policy):
    ex = GroundedSamExtractor(tiny | {"batch_size": 2, "box_policy": policy})
    photos = [_photo(120, 90), _photo(64, 100), _photo(90, 90)]
    results = ex.extract_many(photos, ["product", "phone case", "bottle"])
    assert [r.mask.shape for r in results] == [(90, 120), (100, 64), (90, 90)]


@pytest.mark.models
def test_no_box_raises_and_auto_falls_back_with_reason(tiny):
    strict = tiny | {"box_threshold": 1.01}  # no score can pass: an empty detection
    with pytest.raises(ExtractionError, match=r"no box for 'perfume bottle \.' above box_threshold 1.01"):
        GroundedSamExtractor(strict).extract(_photo(), "perfume bottle")
    subject = extract_subject(_photo(), "perfume bottle", "auto", {"grounded-sam": strict})
    assert subject.method == "saliency"
    assert subject.note == ("alpha: image has no transparency; "
                            "grounded-sam: no box for 'perfume bottle .' above box_threshold 1.01")


@pytest.mark.models
def test_models_load_once_per_process(tiny):
    ex = get_extractor("grounded-sam", dict(tiny))
    assert ex is get_extractor("grounded-sam", dict(tiny))
    assert ex.models() is ex.models()


@pytest.mark.models
def test_auto_chain_uses_grounded_sam_when_weights_present(tiny):
    out = extract_subjects([_photo(), _photo(80, 80)], ["bottle", "bottle"], "auto", {"grounded-sam": tiny})
    assert [s.method for s in out] == ["grounded-sam", "grounded-sam"]
    assert out[0].note == "alpha: image has no transparency"


def test_missing_local_folder_is_unavailable_and_auto_says_why(tmp_path):
    settings = {"detector": str(tmp_path / "nope"), "segmenter": str(tmp_path / "nope")}
    assert GroundedSamExtractor(settings).unavailable() == f"{tmp_path / 'nope'}: local model folder does not exist"
    subject = extract_subject(_photo(), "bottle", "auto", {"grounded-sam": settings})
    assert subject.method == "saliency"
    assert f"grounded-sam: {tmp_path / 'nope'}: local model folder does not exist" in subject.note


def test_explicit_method_without_weights_is_backend_unavailable(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    settings = {"grounded-sam": {"detector": str(tmp_path), "segmenter": str(tmp_path)}}
    with pytest.raises(BackendUnavailable, match=r"no \.safetensors weights in this folder"):
        extract_subject(_photo(), "bottle", "grounded-sam", settings)


def test_uncached_hub_id_offline_gives_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    why = GroundedSamExtractor({"detector": "acme/no-such-detector"}).unavailable()
    assert why == ("weights for acme/no-such-detector are not in the local Hugging Face cache and "
                   "HF_HUB_OFFLINE=1 is set; run `huggingface-cli download acme/no-such-detector` "
                   "or point the config at a local folder")


def test_invalid_repo_id_is_named():
    why = GroundedSamExtractor({"detector": "not a//valid id"}).unavailable()
    assert why == "'not a//valid id' is neither a model folder nor a valid Hugging Face repo id"


def test_missing_transformers_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    why = GroundedSamExtractor({}).unavailable()
    assert why.startswith("needs torch and transformers (transformers is missing)")
    assert "pip install 'ecomctl[models]'" in why


def test_settings_are_validated():
    with pytest.raises(ConfigError, match="config subject.grounded-sam: unknown key"):
        GroundedSamExtractor({"detectr": "x"})
    with pytest.raises(ConfigError, match="box_policy"):
        GroundedSamExtractor({"box_policy": "all"})


def test_prompt_is_normalised_for_grounding_dino():
    assert _prompt_text("Perfume Bottle") == "perfume bottle ."
    assert _prompt_text("cup, saucer.") == "cup . saucer ."
    assert _prompt_text("  ") == "product ."


@pytest.mark.models
def test_sam_candidate_chosen_by_predicted_iou_and_boxes_united(tiny):
    import torch

    ex = GroundedSamExtractor(tiny)
    m = ex.models()
    cand = -torch.ones(1, 2, 3, 32, 32)  # 1 image, 2 boxes, 3 candidates each (logits)
    cand[0, 0, 0] = 1.0  # box 0: candidate 0 = everything (low predicted IoU)
    cand[0, 0, 1, :, :16] = 1.0  # box 0: candidate 1 = left half (best predicted IoU)
    cand[0, 1, 2, :16, :] = 1.0  # box 1: candidate 2 = top half (best predicted IoU)
    scores = torch.tensor([[[0.1, 0.9, 0.2], [0.3, 0.1, 0.8]]])
    fake = type(m)(m.torch, m.detector, m.det_proc,
                   lambda **kw: type("Out", (), {"pred_masks": cand, "iou_scores": scores}), m.seg_proc, "cpu")
    img = Image.new("RGB", (64, 64))
    (mask,) = ex.segment(fake, [img], [[[0, 0, 32, 64], [0, 0, 64, 32]]])
    expect = np.zeros((64, 64), bool)
    expect[:, :32] = True
    expect[:32, :] = True
    assert mask.shape == (64, 64)
    assert (mask == expect).mean() > 0.97  # bilinear upsampling blurs the seam by a pixel
    (single,) = ex.segment(fake, [img], [[[0, 0, 32, 64]]])  # one real box: the padded copy is ignored
    assert single[:, 34:].sum() == 0 and single[:, :30].all()
