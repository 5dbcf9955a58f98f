"""`ecomctl bench --backend compose MANIFEST`: render timed end to end per worker count, a baseline run in the
same benchmark, and the poster-by-poster comparison of pixels and QA figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ecomctl.bench.compare import compare
from ecomctl.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _manifest(tmp_path: Path) -> Path:
    src = ROOT / "manifests" / "assets" / "571507774301.png"
    m = tmp_path / "m.csv"
    m.write_text(f"sku,image,title,price,size,variants\nA,{src},Hydra Cream,$39,256x256,1\n", encoding="utf-8")
    return m


@pytest.mark.slow
def test_compose_bench_runs_render_and_compares_with_the_baseline(tmp_path: Path):
    out = tmp_path / "bench.json"
    res = runner.invoke(app, ["bench", "--backend", "compose", str(_manifest(tmp_path)), "--workers", "1",
                              "--baseline", sys.executable, "--repeats", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["schema"] == "ecomctl.bench.render/1"
    run = rec["current"]["1"]
    assert run["posters"] == 1 and run["posters_per_s"] > 0 and run["cpu_s_per_poster"] > 0
    assert run["peak_rss_mb"] > 0 and run["qa_status"] == {"pass": 1}
    assert {"extract", "scene", "typeset", "qa", "write"} <= set(run["cpu_s_per_poster_by_stage"])
    assert rec["speedup"]["1"] > 0
    assert rec["same_posters"]["1"]["ok"] and rec["same_posters"]["1"]["max_mad"] == 0.0


def test_compose_bench_usage_errors(tmp_path: Path):
    res = runner.invoke(app, ["bench", "--backend", "compose"])
    assert res.exit_code == 2 and "needs a MANIFEST" in res.output
    res = runner.invoke(app, ["bench", "--backend", "compose", str(_manifest(tmp_path)), "--workers", "0"])
    assert res.exit_code == 2 and "--workers '0'" in res.output
    res = runner.invoke(app, ["bench", "--backend", "compose", str(_manifest(tmp_path)), "--baseline",
                              str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a python executable" in res.output


def _poster_dir(root: Path, pixels: np.ndarray, qa_value: float, method: str = "alpha") -> Path:
    folder = root / "A"
    folder.mkdir(parents=True)
    Image.fromarray(pixels).save(folder / "A-v1.png")
    checks = [{"name": "text.ned", "value": qa_value, "status": "pass"}]
    side = {"qa": {"status": "pass", "checks": checks}, "subject": {"method": method}}
    (folder / "A-v1.json").write_text(json.dumps(side), encoding="utf-8")
    return root


def test_compare_flags_pixel_and_qa_changes(tmp_path: Path):
    base = np.full((20, 20, 3), 100, np.uint8)
    a = _poster_dir(tmp_path / "a", base, 1.0)
    near = base.copy()
    near[:10] += 3  # mean |difference| 1.5 ≤ 2
    assert compare(a, _poster_dir(tmp_path / "b", near, 1.0))["ok"]
    far = base + 5
    result = compare(a, _poster_dir(tmp_path / "c", far, 1.0))
    assert not result["ok"] and "mean absolute difference 5.000 > 2.0" in result["problems"][0]
    result = compare(a, _poster_dir(tmp_path / "d", base, 0.9))
    assert not result["ok"] and "QA changed {'text.ned': [1.0, 0.9]}" in result["problems"][0]
    result = compare(a, _poster_dir(tmp_path / "e", far, 0.9, "saliency"))
    assert result["ok"] and result["compared"] == 0
    assert result["design_changed"] == {"A-v1": "extractor alpha → saliency"}
