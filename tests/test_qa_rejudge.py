"""A night where only QA limits changed re-judges the stored measurements (qa/rejudge.py): the same verdicts
and checks as a full re-grade (`ecomctl qa OUT`), without opening an image or running OCR; a setting that
changes what is measured still re-grades in full."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ecomctl.config import load_config
from ecomctl.engine.recheck import recheck
from ecomctl.engine.runner import run_render
from ecomctl.qa import grade
from ecomctl.qa import recheck as qa_recheck
from ecomctl.store import posters as store_posters
from ecomctl.text.ocr.rapidocr import RapidOcrEngine
from tests.conftest import make_product, write_manifest


def _verdicts(out: Path) -> dict[str, tuple]:
    found = {}
    for p in sorted(out.glob("*/*-v*.json")):
        qa = json.loads(p.read_text(encoding="utf-8"))["qa"]
        found[p.name] = (qa["status"], [(c["name"], c["value"], c["status"], c["reason"]) for c in qa["checks"]])
    return found


@pytest.fixture
def one_sku(tmp_path: Path) -> Path:
    make_product(tmp_path / "a.png")
    return write_manifest(tmp_path / "m.csv", [
        {"sku": "A1", "image": "a.png", "title": "Travel Mug", "subtitle": "Keeps coffee hot",
         "price": "$24", "size": "512x512", "variants": "2"}])


def _cfg(out: Path, **qa: object):
    return load_config(None, {"run.out": str(out), **{f"qa.{k}": v for k, v in qa.items()}})


# (a subject limit, a layout.contrast limit, text limits): each turns some check's verdict
CHANGES = [{"subject.psnr_warn": 1000.0, "subject.psnr_fail": 999.0, "subject.ssim_warn": 0.9999},
           {"layout.contrast_warn": 100.0, "layout.overlap_warn": 0.0, "layout.overlap_fail": 0.0},
           {"text.line_ned_warn": 1.5, "text.min_sen_acc": 1.5}]  # even an exact read (1.0) warns


def test_rejudging_gives_the_verdicts_of_a_full_regrade_and_opens_nothing(one_sku: Path, tmp_path: Path,
                                                                          monkeypatch):
    out = tmp_path / "out"
    assert run_render(one_sku, _cfg(out)).exit_code == 0
    base = tmp_path / "base"
    shutil.copytree(out, base)
    calls: list[str] = []
    real_regrade, real_load, real_open = qa_recheck.regrade_sku, store_posters.load_poster, Image.open
    ocr = {name: getattr(RapidOcrEngine, name) for name in ("recognize", "detect", "read")}

    def spy(name, fn):
        def wrapped(*a, **k):
            calls.append(name)
            return fn(*a, **k)
        return wrapped

    for i, change in enumerate(CHANGES):
        night, full = tmp_path / f"night{i}", tmp_path / f"full{i}"
        shutil.copytree(base, night)
        shutil.copytree(base, full)
        monkeypatch.setattr(qa_recheck, "regrade_sku", spy("regrade", real_regrade))
        monkeypatch.setattr(store_posters, "load_poster", spy("load", real_load))
        monkeypatch.setattr(Image, "open", spy("open", real_open))
        for name, fn in ocr.items():
            monkeypatch.setattr(RapidOcrEngine, name, spy(f"ocr.{name}", fn))
        summary = run_render(one_sku, _cfg(night, **change))
        monkeypatch.undo()
        assert summary.exit_code in (0, 1) and calls == [], (change, calls)  # no image, no OCR, no re-grade
        assert summary.rejudged == summary.regraded == 2, change
        recheck(full, _cfg(full, **change))  # `ecomctl qa OUT`: everything measured again
        assert _verdicts(night) == _verdicts(full), change
        assert _verdicts(night) != _verdicts(base), change  # the change turned a verdict (not a no-op test)
        for p in night.glob("*/*-v*.json"):  # stamped: the same keys as the full re-grade's
            d, f = json.loads(p.read_text()), json.loads((full / p.parent.name / p.name).read_text())
            assert (d["qa_key"], d["qa_measure_key"]) == (f["qa_key"], f["qa_measure_key"])
        again = run_render(one_sku, _cfg(night, **change))
        assert again.resumed == 2 and again.regraded == 0


def test_a_measuring_setting_still_regrades_in_full(small_manifest: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    assert run_render(small_manifest, _cfg(out, **{"text.enabled": False})).exit_code == 0
    calls: list[str] = []
    real = qa_recheck.regrade_sku
    monkeypatch.setattr(qa_recheck, "regrade_sku", lambda *a, **k: calls.append("regrade") or real(*a, **k))
    summary = run_render(small_manifest, _cfg(out, **{"text.enabled": False, "subject.tolerance": 0}))
    assert summary.regraded == 3 and summary.rejudged == 0 and calls == ["regrade", "regrade"]


def test_the_measuring_key_leaves_out_only_rejudged_limits():
    base = load_config(None, {})
    key = grade.measure_key(base)
    for field, value in [("subject.iou_warn", 0.995), ("layout.contrast_fail", 2.0), ("text.min_sen_acc", 0.5),
                         ("layout.margin_warn", 0.03), ("subject.confidence_fail", 0.2)]:
        cfg = load_config(None, {f"qa.{field}": value})
        assert grade.measure_key(cfg) == key and grade.grading_key(cfg) != grade.grading_key(base), field
    for field, value in [("subject.tolerance", 8), ("text.pad", 0.3), ("text.stray_min_score", 0.6),
                         ("image.flat_std", 3.0), ("variants.phash_distance", 4), ("layout.logo_warn", 0.97),
                         ("style.campaign_warn", 0.7), ("text.stray_text", "fail")]:
        assert grade.measure_key(load_config(None, {f"qa.{field}": value})) != key, field
