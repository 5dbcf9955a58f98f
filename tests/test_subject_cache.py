"""Extraction once per distinct photo: SKUs sharing a photo and later runs reuse the stored subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ecomctl.subject import cache
from ecomctl.subject.cache import cached_subject, subject_key
from ecomctl.types import Box, Subject


def _subject(value: int = 200) -> Subject:
    mask = np.zeros((30, 40), np.uint8)
    mask[5:25, 10:30] = value
    img = Image.fromarray(np.random.default_rng(value).integers(0, 255, (30, 40, 3), dtype=np.uint8))
    return Subject(img, mask, Box(10, 5, 30, 25), "classical", "alpha: image has no transparency", 0.83,
                   "soft edge")


def test_key_follows_photo_method_prompt_and_settings():
    k = subject_key("abc", "auto", "jar", {"classical": {"work_side": 720}})
    assert k == subject_key("abc", "auto", "jar", {"classical": {"work_side": 720}})
    assert len({k, subject_key("abd", "auto", "jar", {}), subject_key("abc", "classical", "jar", {}),
                subject_key("abc", "auto", "can", {}), subject_key("abc", "auto", "jar", {"x": 1})}) == 5


def test_computed_once_then_from_memory_then_from_disk(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cache, "_MEMORY", type(cache._MEMORY)())
    calls = []

    def compute():
        calls.append(1)
        return _subject()

    first = cached_subject("k1", tmp_path, compute)
    assert cached_subject("k1", tmp_path, compute) is first and len(calls) == 1
    cache._MEMORY.clear()  # a new worker process / a later run into the same folder
    again = cached_subject("k1", tmp_path, compute)
    assert len(calls) == 1
    assert np.array_equal(again.mask, first.mask) and again.bbox == first.bbox
    assert np.array_equal(np.asarray(again.image), np.asarray(first.image))
    assert (again.method, again.note, again.confidence, again.confidence_why) == (
        "classical", "alpha: image has no transparency", 0.83, "soft edge")


def test_unreadable_cache_file_is_extracted_again(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cache, "_MEMORY", type(cache._MEMORY)())
    (tmp_path / "k2.npz").write_bytes(b"not an npz")
    got = cached_subject("k2", tmp_path, lambda: _subject(120))
    assert got.mask.max() == 120
    cache._MEMORY.clear()
    assert cached_subject("k2", tmp_path, lambda: _subject(7)).mask.max() == 120  # rewritten, readable


def test_skus_sharing_a_photo_extract_it_once_across_runs(tmp_path: Path, monkeypatch):
    from ecomctl.config import load_config
    from ecomctl.engine import item
    from ecomctl.engine.runner import run_render

    monkeypatch.setattr(cache, "_MEMORY", type(cache._MEMORY)())
    photo = Path(__file__).resolve().parents[1] / "manifests" / "assets" / "571507774301-flat.jpg"
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"sku,image,title,size,variants\nA,{photo},Cream A,256x256,1\nB,{photo},Cream B,256x256,1\n",
                        encoding="utf-8")
    calls = []
    real = item.extract_subject
    monkeypatch.setattr(item, "extract_subject", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = load_config(None, {"run.out": str(tmp_path / "out"), "qa.text.enabled": False}, environ={})
    first = run_render(manifest, cfg)
    assert len(calls) == 1 and [r.status for r in first.results] == ["pass", "pass"]
    cache._MEMORY.clear()
    run_render(manifest, cfg, force=True)
    assert len(calls) == 1  # the second run read the stored subject
    assert len(list((tmp_path / "out" / ".cache" / "subjects").glob("*.npz"))) == 1
