"""Campaigns: SKUs of a campaign share one reference style, and a learned style score says how closely."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.config import load_config
from ecomctl.engine.runner import run_render
from tests.conftest import ROOT, make_product, write_manifest

runner = CliRunner()


def _cfg(out: Path, **over):
    return load_config(None, {"run.out": str(out), "qa.text.enabled": False, **over})


def _demo_campaigns(folder: Path, n: int = 4) -> Path:
    """The first `n` rows of manifests/campaigns.csv (two campaigns, alternating), one variant each."""
    src = ROOT / "manifests" / "campaigns.csv"
    rows = list(csv.DictReader(src.open(encoding="utf-8")))[:n]
    for r in rows:
        r["image"], r["variants"] = str(src.parent / r["image"]), "1"
    return write_manifest(folder / "campaigns.csv", rows)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("campaigns")
    out = folder / "out"
    summary = run_render(_demo_campaigns(folder), _cfg(out))
    assert summary.exit_code == 0, [(r.sku, r.error, r.qa and r.qa.reasons) for r in summary.results]
    return out


def _items(out: Path) -> list[dict]:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))["items"]


@pytest.mark.slow
def test_demo_campaign_posters_score_closer_to_their_own_reference(demo_run: Path):
    from ecomctl.qa.style import style_vector

    out = demo_run
    refs = {n: style_vector(Image.open(out / "campaigns" / f"{n}.png")) for n in ("spring-pastel", "night-luxe")}
    scores: dict[tuple[str, str], list[float]] = {}
    for item in _items(out):
        mask = np.asarray(Image.open(out / item["sku"] / f"{item['name']}.subject.png"))
        vec = style_vector(Image.open(out / item["image"]), mask)
        for name, ref in refs.items():
            scores.setdefault((item["campaign"], name), []).append(float(vec @ ref))
        assert item["metrics"]["style.campaign"] == pytest.approx(float(vec @ refs[item["campaign"]]), abs=1e-3)
    for name in refs:  # against each reference, its own posters beat every poster of the other campaign
        other = next(n for n in refs if n != name)
        assert min(scores[(name, name)]) > max(scores[(other, name)]) + 0.1, scores


@pytest.mark.slow
def test_report_html_shows_a_style_figure_per_poster_and_names_the_model(demo_run: Path):
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    assert 'title="style.campaign: campaign look"' in html and "Magenta arbitrary-image-stylization style predictor" in html
    assert "campaign: spring-pastel" in html and "campaign: night-luxe" in html
    for item in _items(demo_run):
        assert 0.5 < item["metrics"]["style.campaign"] <= 1.0
        assert f'data-v="{item["metrics"]["style.campaign"]}"' in html
    report = json.loads((demo_run / "report.json").read_text(encoding="utf-8"))
    assert report["campaigns"]["spring-pastel"]["posters"] == 2 and report["campaigns"]["night-luxe"]["posters"] == 2
    assert "style.campaign" in (demo_run / "report.csv").read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.slow
def test_first_scene_becomes_the_reference_of_the_rest(demo_run: Path):
    out = demo_run
    first = json.loads((out / "JAR-001" / "JAR-001-v1.json").read_text(encoding="utf-8"))
    later = json.loads((out / "CASE-CS" / "CASE-CS-v1.json").read_text(encoding="utf-8"))
    assert first["style"]["name"] == "pastel-bloom" and (out / "JAR-001" / "JAR-001-v1.bg.png").is_file()
    assert later["style"]["name"] == "ref:spring-pastel.png" and later["inputs"]["campaign"] == "spring-pastel"
    ref = np.asarray(Image.open(out / "campaigns" / "spring-pastel.png"), np.int16)
    scene = np.asarray(Image.open(out / "JAR-001" / "JAR-001-v1.bg.png"), np.int16)
    placed = np.asarray(Image.open(out / "JAR-001" / "JAR-001-v1.subject.png")) > 0
    assert ref.shape == scene.shape
    assert np.abs(ref - scene)[~placed].mean() < 3  # the scene, except where the product stood
    assert np.abs(ref - scene)[placed].mean() > 5  # the product (and its shadow) are filled in


def _refs(folder: Path) -> tuple[Path, Path]:
    """Two contrasting reference pictures: warm paper with grain, and a dark striped night scene."""
    rng = np.random.default_rng(1)
    yy = np.linspace(0, 1, 384)[:, None, None]
    warm = np.array([250, 226, 205]) * (1 - yy) + np.array([240, 200, 170]) * yy + rng.normal(0, 6, (384, 384, 1))
    night = Image.new("RGB", (384, 384), (16, 22, 48))
    d = ImageDraw.Draw(night)
    for x in range(-384, 384, 24):
        d.line((x, 0, x + 384, 384), fill=(40, 60, 120), width=3)
    a, b = folder / "warm.png", folder / "night.png"
    Image.fromarray(np.clip(warm, 0, 255).astype(np.uint8)).save(a)
    night.save(b)
    return a, b


def _render(manifest: Path, out: Path, config: Path, *extra: str):
    return runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(config), *extra])


@pytest.mark.slow
def test_given_reference_styles_every_sku_and_changes_re_render(small_manifest: Path, fast_config: Path,
                                                                 tmp_path: Path, monkeypatch):
    warm, _ = _refs(tmp_path)
    out = tmp_path / "out"
    res = _render(small_manifest, out, fast_config, "--campaign", "summer", "--campaign-ref", str(warm))
    assert res.exit_code == 0, res.output
    stored = np.asarray(Image.open(out / "campaigns" / "summer.png"))
    assert np.array_equal(stored, np.asarray(Image.open(warm).convert("RGB")))
    for side in sorted(out.glob("*/*-v?.json")):
        data = json.loads(side.read_text(encoding="utf-8"))
        assert data["inputs"]["campaign"] == "summer" and data["style"]["name"] == "ref:summer.png"
        assert any(c["name"] == "style.campaign" for c in data["qa"]["checks"])
    poster = np.asarray(Image.open(out / "B2" / "B2-v1.png").convert("RGB"), np.float32)
    assert poster[:20, :20].mean(axis=(0, 1))[0] > 200  # the warm reference's palette, not a preset's
    from ecomctl.qa import style

    with monkeypatch.context() as m:  # an unchanged poster keeps its stored style score: no network run
        m.setattr(style, "style_vector", lambda *a, **k: pytest.fail("an unchanged poster was scored again"))
        again = _render(small_manifest, out, fast_config, "--campaign", "summer", "--campaign-ref", str(warm))
    assert again.exit_code == 0 and "(unchanged)" in again.stdout and "pass    A1-v1  " not in again.stdout
    Image.open(warm).rotate(180).save(warm)  # same path, new content: every poster renders again
    third = _render(small_manifest, out, fast_config, "--campaign", "summer", "--campaign-ref", str(warm))
    assert third.exit_code == 0 and "(unchanged)" not in third.stdout


def test_campaign_ref_needs_a_campaign_and_a_readable_image(small_manifest: Path, fast_config: Path,
                                                            tmp_path: Path):
    res = _render(small_manifest, tmp_path / "out", fast_config, "--campaign-ref", str(small_manifest))
    assert res.exit_code == 2
    assert res.stderr == "error: --campaign-ref needs --campaign NAME (the campaign it is the reference of)\n"
    res = _render(small_manifest, tmp_path / "out", fast_config, "--campaign", "x", "--campaign-ref",
                  str(small_manifest))
    assert res.exit_code == 2
    assert res.stderr.startswith("error: render.campaigns.x: cannot read image m.csv: not an image file")
    res = _render(small_manifest, tmp_path / "out", fast_config, "--campaign", "a/b")
    assert res.exit_code == 2 and "campaign 'a/b': use letters, digits" in res.stderr
    assert not (tmp_path / "out" / "A1").exists()


def test_campaign_column_is_validated(tmp_path: Path):
    from ecomctl.errors import ManifestError
    from ecomctl.manifest import load_manifest

    make_product(tmp_path / "p.png")
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "image": "p.png", "title": "T", "campaign": "spring-26"},
        {"sku": "B", "image": "p.png", "title": "T", "campaign": "no spaces"},
    ])
    with pytest.raises(ManifestError, match=r"m\.csv:3:4: campaign"):
        load_manifest(path)
    write_manifest(path, [{"sku": "A", "image": "p.png", "title": "T", "campaign": "spring-26"}])
    assert load_manifest(path).rows[0].campaign == "spring-26"
    write_manifest(path, [{"sku": "Campaigns", "image": "p.png", "title": "T"}])  # OUT/campaigns is the run's
    with pytest.raises(ManifestError, match=r"m\.csv:2:1: sku: 'Campaigns' is reserved"):
        load_manifest(path)


@pytest.mark.slow
def test_a_failing_first_sku_hands_the_reference_to_the_next(tmp_path: Path):
    make_product(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": f"S{i}", "image": img, "title": "Spring", "size": "256x256", "variants": "1", "campaign": "c"}
        for i, img in enumerate(["broken.png", "ok.png", "ok.png"])])
    summary = run_render(path, _cfg(tmp_path / "out"))
    by = {r.sku: r for r in summary.results}
    assert by["S0"].status == "error" and by["S1"].status == by["S2"].status == "pass"
    assert (tmp_path / "out" / "S1" / "S1-v1.bg.png").is_file() and (tmp_path / "out" / "campaigns" / "c.png").is_file()
    figures = {i["sku"]: i["metrics"] for i in _items(tmp_path / "out")}  # results are slim; the report has all
    assert figures["S2"]["style.campaign"] > 0.8 and by["S1"].campaign == "c"


@pytest.mark.slow
def test_warn_threshold_recheck_and_log_lines(tmp_path: Path):
    make_product(tmp_path / "p.png")
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": s, "image": "p.png", "title": "Night", "size": "256x256", "variants": "1", "campaign": "n"}
        for s in ("A", "B")])
    out, log = tmp_path / "out", tmp_path / "run.jsonl"
    summary = run_render(path, _cfg(out, **{"qa.style.campaign_warn": 0.9999}), log_json=log)
    b = next(r for r in summary.results if r.sku == "B")
    assert b.status == "warn" and any("vs campaign 'n' reference (warn below 0.9999)" in x for x in b.qa.reasons)

    def figures():  # from the report: a run's results are slim (no passing checks)
        return {i["sku"]: (i["status"], i["metrics"]) for i in _items(out)}

    first = figures()
    regraded = run_render(path, _cfg(out))  # only the threshold changed: re-graded, the style figure made again
    assert all(r.regraded and r.status == "pass" for r in regraded.results)
    assert all(m["style.campaign"] > 0.8 for _, m in figures().values())
    summary = run_render(path, _cfg(out, **{"qa.style.campaign_warn": 0.9999}), log_json=log)
    assert all(r.regraded for r in summary.results)
    assert figures() == first  # the render-time verdicts again
    items = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if '"item"' in x]
    assert all("style.campaign" in e["qa"] for e in items)
    from ecomctl.engine.recheck import recheck

    again = recheck(out, _cfg(out))  # default threshold: pass again, the figure stays
    assert all(r.status == "pass" and r.qa.metrics["style.campaign"] > 0.8 for r in again)
    off = recheck(out, _cfg(out, **{"qa.style.enabled": False}))
    assert all("style.campaign" not in r.qa.metrics for r in off)


def test_compose_takes_texture_from_the_reference(tmp_path: Path):
    from ecomctl.render.compose import _grain

    flat = Image.new("RGB", (300, 300), (200, 180, 160))
    noisy = np.clip(np.random.default_rng(0).normal(128, 5, (300, 300, 1)).repeat(3, 2), 0, 255)
    assert _grain(flat) < 0.8
    assert 2.5 < _grain(Image.fromarray(noisy.astype(np.uint8))) <= 6.0
