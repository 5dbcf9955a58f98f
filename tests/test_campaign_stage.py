"""The campaign stage (engine/campaigns.py) scores a poster where it is graded, so the store writes each sidecar
once: only a campaign's first SKU, rendered before its reference existed, is scored (and rewritten) after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomctl.config import load_config
from ecomctl.engine import campaigns
from ecomctl.engine.recheck import recheck
from ecomctl.engine.runner import run_render
from ecomctl.qa import recheck as regrade
from tests.conftest import make_product, write_manifest


def _counting(monkeypatch: pytest.MonkeyPatch, module: object) -> list[Path]:
    """Every sidecar rewrite `module` asks the store for, in this process."""
    calls: list[Path] = []
    real = module.rewrite_sidecar

    def rewrite(path: Path, data: dict) -> None:
        calls.append(Path(path))
        real(path, data)

    monkeypatch.setattr(module, "rewrite_sidecar", rewrite)
    return calls


def test_each_campaign_sidecar_is_written_once_but_the_first_skus(tmp_path: Path, monkeypatch):
    make_product(tmp_path / "p.png")
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": s, "image": "p.png", "title": "Night", "size": "256x256", "variants": "1", "campaign": "n"}
        for s in ("A", "B", "C")])
    out = tmp_path / "out"
    cfg = load_config(None, {"run.out": str(out), "qa.text.enabled": False, "run.executor": "serial"})
    after = _counting(monkeypatch, campaigns)
    summary = run_render(path, cfg)
    assert summary.exit_code == 0
    assert after == [out / "A" / "A-v1.json"]  # B and C were scored by their worker, before their one write
    for sku in ("A", "B", "C"):
        data = json.loads((out / sku / f"{sku}-v1.json").read_text(encoding="utf-8"))
        assert [c["name"] for c in data["qa"]["checks"]].count("style.campaign") == 1
    assert {r.sku: r.campaign for r in summary.results} == {"A": "n", "B": "n", "C": "n"}

    regraded = _counting(monkeypatch, regrade)
    after.clear()
    again = recheck(out, cfg)  # `ecomctl qa OUT`: each sidecar once, the campaign check already in it
    assert sorted(regraded) == sorted(out / s / f"{s}-v1.json" for s in ("A", "B", "C")) and after == []
    assert all(r.campaign == "n" and r.qa.metrics["style.campaign"] > 0.8 for r in again)
