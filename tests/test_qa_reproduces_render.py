"""`ecomctl qa OUT` measures what `render` measured: same figures, same verdicts, from what the store kept.

The suite renders a representative subset of the demo (3 of its 7 SKUs, 6 posters: a transparent
packshot at 1024² with a logo, selling points and a struck-through list price, a banner with points, and a photo on paper extracted by the classical chain in a story canvas with
a brand style from manifests/styles.yaml), without --keep-layers, text QA on. The whole demo (14 posters)
takes ~100 s to render and ~75 s to re-check on a shared 2-core machine; set ECOMCTL_QA_FULL_DEMO=1 to
run it over every SKU.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import ROOT

runner = CliRunner()
SUBSET = ("JAR-001", "CASE-CS", "CUSHION-20-EN")


def _manifest(folder: Path) -> Path:
    demo = ROOT / "manifests" / "demo.csv"
    if os.environ.get("ECOMCTL_QA_FULL_DEMO") == "1":
        return demo
    with open(demo, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["sku"] in SUBSET]
    for r in rows:
        r["image"] = str(ROOT / "manifests" / r["image"])
        if r.get("logo"):
            r["logo"] = str(ROOT / "manifests" / r["logo"])
    shutil.copy(ROOT / "manifests" / "styles.yaml", folder / "styles.yaml")
    path = folder / "demo-subset.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _verdicts(out: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(out.glob("*/*-v*.json")):
        qa = json.loads(path.read_text(encoding="utf-8"))["qa"]
        details = {k: v for k, v in qa["details"].items() if k != "seconds"}  # timings differ, figures don't
        found[path.stem] = {"status": qa["status"], "checks": qa["checks"], "details": details}
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, dict[str, dict], dict, int]:
    root = tmp_path_factory.mktemp("demo_qa")
    out = root / "out"
    res = runner.invoke(app, ["render", str(_manifest(root)), "--out", str(out)])
    assert res.exit_code in (0, 1), res.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return out, _verdicts(out), report, res.exit_code


def test_qa_recomputes_every_metric_and_verdict_render_computed(rendered):
    out, at_render, report, code = rendered
    assert len(at_render) == (14 if os.environ.get("ECOMCTL_QA_FULL_DEMO") == "1" else 6)
    res = runner.invoke(app, ["qa", str(out)])
    assert res.exit_code == code, res.output
    again = _verdicts(out)
    assert again.keys() == at_render.keys()
    for name, before in at_render.items():
        after = again[name]
        assert after["status"] == before["status"], name
        assert after["checks"] == before["checks"], name  # every value, status and reason
        assert after["details"] == before["details"], name  # per-line OCR reads, contrast, subject pixels
    subject = {c["name"]: c["value"] for v in again.values() for c in v["checks"] if c["name"] == "subject.psnr"}
    assert subject and all(value == 99.0 for value in subject.values())  # the product is pixel-exact
    rows = {i["name"]: (i["status"], i["metrics"]) for i in report["items"]}
    new = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {i["name"]: (i["status"], i["metrics"]) for i in new["items"]} == rows
