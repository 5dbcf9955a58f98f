"""A wrong product mask cannot pass QA silently: the extractor's mask confidence is a QA check and a report column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.qa.checks import check_mask_confidence
from ecomctl.qa.metrics import iou
from ecomctl.qa.thresholds import SubjectThresholds
from tests.conftest import write_manifest
from tests.extract_scenes import scene

runner = CliRunner()


class _Poster:
    def __init__(self, subject: dict):
        self.meta = {"subject": subject}


def test_confidence_grades_pass_warn_fail_with_the_evidence():
    t = SubjectThresholds()
    assert check_mask_confidence(_Poster({"method": "saliency", "confidence": 0.92}), t)[0].status == "pass"
    warn = check_mask_confidence(_Poster({"method": "saliency", "confidence": 0.5,
                                          "confidence_why": "mask is in 6 pieces"}), t)[0]
    assert warn.status == "warn" and warn.reason == ("saliency mask confidence 0.50 < 0.7 (mask is in 6 pieces): "
                                                     "the mask may not be the product")
    assert check_mask_confidence(_Poster({"method": "classical", "confidence": 0.1}), t)[0].status == "fail"
    assert check_mask_confidence(_Poster({"method": "classical"}), t) == []  # an old sidecar: nothing to judge


def test_a_wrong_mask_is_flagged_in_the_report(tmp_path: Path):
    """Classical extraction on a street scene returns the ground, not the product: the report says so."""
    fx = scene(4)
    fx.image.save(tmp_path / "street.jpg", quality=92)
    manifest = write_manifest(tmp_path / "m.csv", [{"sku": "S", "image": "street.jpg", "title": "Travel Jar",
                                                   "size": "512x512", "variants": "1"}])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("subject:\n  method: classical\nqa:\n  text:\n    enabled: false\n", encoding="utf-8")
    out = tmp_path / "out"
    res = runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(cfg)])
    assert res.exit_code == 1, res.output  # a failed check → exit 1
    assert iou(np.asarray(Image.open(out / "S" / "S.mask.png")), fx.truth) < 0.5  # the mask really is wrong
    item = json.loads((out / "report.json").read_text(encoding="utf-8"))["items"][0]
    assert item["status"] == "fail"
    assert item["metrics"]["subject.confidence"] < 0.3
    assert any(r.startswith("classical mask confidence") and "studio backdrop" in r for r in item["reasons"])
    side = json.loads((out / "S" / "S-v1.json").read_text(encoding="utf-8"))
    assert side["subject"]["confidence"] == item["metrics"]["subject.confidence"]
    rows = list(csv.DictReader((out / "report.csv").open(encoding="utf-8")))
    assert float(rows[0]["subject.confidence"]) < 0.3
    assert "subject.confidence" in (out / "report.html").read_text(encoding="utf-8")
