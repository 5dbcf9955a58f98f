"""`dataset build` from a brand render (logo, selling points, price label, struck list price): every drawn line is
in the glyph condition with its role, bullets and the strike are not text, the logo is its own element (box +
RGBA crop) and never glyph ink, the render's layout metrics / dropped copy / QA verdict are in the record, and
a render QA failed is dropped as the hygiene rule says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.dataset import build_corpus, settings_from, validate_corpus
from ecomctl.dataset.corpus import LAYOUT_METRICS
from tests.conftest import ROOT, write_manifest

ASSETS = ROOT / "manifests" / "assets"
ROLES = {"title", "point", "price", "price_label", "list_price"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("brand")
    shutil.copy(ASSETS / "571507774301.png", root / "jar.png")
    shutil.copy(ASSETS / "logos" / "zhenyan.png", root / "logo.png")
    manifest = write_manifest(root / "m.csv", [
        {"sku": "JAR", "image": "jar.png", "title": "臻颜修护面霜", "subtitle": "Intensive repair cream",
         "price": "¥299", "list_price": "¥399", "price_label": "到手价", "logo": "logo.png",
         "points": "24小时长效锁水|修护受损屏障|敏感肌可用", "subject": "cream jar", "size": "640x640",
         "variants": "2"},
    ])
    (root / "fast.yaml").write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    out = root / "out"
    res = CliRunner().invoke(app, ["render", str(manifest), "--out", str(out), "--keep-layers",
                                   "--config", str(root / "fast.yaml")])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def corpus(rendered: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    report = build_corpus(rendered, out, settings_from(size=400, check_sheet=2))
    assert report.kept == 2 and not report.errors, report
    return out


def _rows(corpus: Path) -> list[dict]:
    return pd.read_parquet(corpus / "samples.parquet").to_dict("records")


def _sidecar(rendered: Path, sample_id: str) -> dict:
    sku = sample_id.rsplit("-v", 1)[0]
    return json.loads((rendered / sku / f"{sample_id}.json").read_text(encoding="utf-8"))


def test_every_drawn_line_is_a_glyph_line_with_its_role_and_bullets_are_not_text(corpus: Path, rendered: Path):
    for r in _rows(corpus):
        drawn = _sidecar(rendered, r["id"])["layout"]["lines"]
        assert [(ln["text"], ln["role"]) for ln in r["lines"]] == [(d["text"], d["role"]) for d in drawn]
        assert ROLES <= {ln["role"] for ln in r["lines"]}, r["id"]
        assert [bool(ln["struck"]) for ln in r["lines"]] == [ln["role"] == "list_price" for ln in r["lines"]]
        # every glyph is a character of its line's text: no bullet dot, no strike, nothing the lines do not hold
        for g in r["glyphs"]:
            assert r["lines"][g["line"]]["text"][g["index"]] == g["char"]
        assert {g["line"] for g in r["glyphs"]} == set(range(r["n_lines"]))
        assert "•" not in "".join(g["char"] for g in r["glyphs"])


def test_the_struck_price_glyphs_are_its_text_without_the_strike(corpus: Path):
    for r in _rows(corpus):
        glyph = np.asarray(Image.open(corpus / r["glyph"]).convert("L")) > 127
        (n, line), = [(n, ln) for n, ln in enumerate(r["lines"]) if ln["role"] == "list_price"]
        x0, y0, x1, y1 = line["box"]
        # a strike is one lit row across the box; the digits leave gaps in every row
        assert max(glyph[y, x0:x1].mean() for y in range(y0, y1)) < 0.8, r["id"]
        assert [g["char"] for g in r["glyphs"] if g["line"] == n] == list(line["text"])


def test_the_logo_is_its_own_element_and_never_glyph_ink(corpus: Path, rendered: Path):
    for r in _rows(corpus):
        d = _sidecar(rendered, r["id"])
        box = r["logo_box"]
        want = [np.floor(v * r["scale"]) if i < 2 else np.ceil(v * r["scale"])
                for i, v in enumerate(d["layout"]["logo"]["box"])]
        assert list(box) == want
        with Image.open(corpus / r["logo"]) as logo:
            assert logo.mode == "RGBA" and logo.size == (box[2] - box[0], box[3] - box[1])
            assert np.asarray(logo.getchannel("A")).max() == 255
        glyph = np.asarray(Image.open(corpus / r["glyph"]).convert("L"))
        assert glyph.max() == 255 and glyph[box[1]:box[3], box[0]:box[2]].max() == 0
    assert validate_corpus(corpus) == []


def test_layout_metrics_dropped_copy_and_qa_verdict_are_in_the_record(corpus: Path, rendered: Path):
    for r in _rows(corpus):
        d = _sidecar(rendered, r["id"])
        checks = {c["name"]: c["value"] for c in d["qa"]["checks"]}
        assert r["layout_metrics"] == {k: checks[f"layout.{k}"] for k in LAYOUT_METRICS}
        assert r["template"] == d["layout"]["template"]
        assert list(r["dropped"]) == d["layout"].get("dropped", [])
        assert (r["qa_status"], list(r["qa_flags"])) == ("pass", [])
        record = json.loads((corpus / "records" / f"{r['id']}.json").read_text(encoding="utf-8"))
        assert record["logo_box"] == list(r["logo_box"]) and record["layout_metrics"] == r["layout_metrics"]


def test_a_render_qa_failed_is_dropped_a_warned_one_kept_with_its_flags(rendered: Path, tmp_path: Path):
    src = tmp_path / "out"
    shutil.copytree(rendered, src)
    verdicts = {"JAR-v1": "fail", "JAR-v2": "warn"}
    for sample_id, status in verdicts.items():
        path = src / "JAR" / f"{sample_id}.json"
        d = json.loads(path.read_text(encoding="utf-8"))
        d["qa"]["status"] = status
        check = next(c for c in d["qa"]["checks"] if c["name"] == "layout.contrast")
        check.update(status=status, reason="low contrast")
        d["layout"]["dropped"] = ["points[2:]"]
        path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    report = build_corpus(src, tmp_path / "c", settings_from(size=400, check_sheet=0))
    assert (report.kept, report.dropped) == (1, {"qa_fail": 1})
    (row,) = _rows(tmp_path / "c")
    assert (row["id"], row["qa_status"], list(row["qa_flags"])) == ("JAR-v2", "warn", ["layout.contrast: warn"])
    assert list(row["dropped"]) == ["points[2:]"]
    stats = json.loads((tmp_path / "c" / "stats.json").read_text(encoding="utf-8"))
    assert stats["dropped_items"][0]["detail"] == "QA fail: layout.contrast: fail"
    strict = build_corpus(src, tmp_path / "strict", settings_from(size=400, check_sheet=0, qa_keep="pass"))
    assert (strict.kept, strict.dropped) == (0, {"qa_fail": 1, "qa_warn": 1})


def test_without_layers_the_inpainted_style_image_holds_no_logo(tmp_path: Path):
    shutil.copy(ASSETS / "571507774301.png", tmp_path / "jar.png")
    shutil.copy(ASSETS / "logos" / "zhenyan.png", tmp_path / "logo.png")
    # a light scene: the dark logo contrasts it, so no plate goes under it that the plates' hole would cover
    manifest = write_manifest(tmp_path / "m.csv", [
        {"sku": "JAR", "image": "jar.png", "title": "臻颜修护面霜", "price": "¥299", "list_price": "¥399",
         "logo": "logo.png", "style": "clean-studio", "size": "512x512", "variants": "1"}])
    (tmp_path / "fast.yaml").write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(tmp_path / "fast.yaml")])
    assert res.exit_code == 0, res.output
    assert "logo" not in [p["role"] for p in _sidecar(out, "JAR-v1")["layout"]["plates"]]
    report = build_corpus(out, tmp_path / "c", settings_from(size=512, check_sheet=0))
    assert report.kept == 1, report
    (r,) = _rows(tmp_path / "c")
    x0, y0, x1, y1 = r["logo_box"]
    dark = [(np.asarray(Image.open(tmp_path / "c" / r[k]).convert("L"))[y0:y1, x0:x1] < 128).mean()
            for k in ("poster", "style")]
    assert dark[0] > 0.05 and dark[1] == 0, dark


def test_stats_datasheet_and_check_sheet_show_the_brand_content(corpus: Path):
    stats = json.loads((corpus / "stats.json").read_text(encoding="utf-8"))
    points = sum(ln["role"] == "point" for r in _rows(corpus) for ln in r["lines"])
    assert ROLES <= set(stats["roles"]) and stats["roles"]["point"] == points > 0
    assert (stats["struck_lines"], stats["with_logo"], stats["qa_status"]) == (2, 2, {"pass": 2})
    sheet_text = " ".join((corpus / "datasheet.md").read_text(encoding="utf-8").split())
    assert "2 struck through; 2 with a logo" in sheet_text
    sheet = np.asarray(Image.open(corpus / "check_sheet.png").convert("RGB")).astype(int)
    glyph_column = sheet[:, 3 * sheet.shape[1] // 4:]
    orange = (glyph_column[..., 0] > 230) & (abs(glyph_column[..., 1] - 150) < 20) & (glyph_column[..., 2] < 70)
    assert orange.sum() > 40  # the logo's place outlined on the glyph cell of both rows


def test_dataset_stats_prints_the_brand_counts(corpus: Path):
    res = CliRunner().invoke(app, ["dataset", "stats", str(corpus)], terminal_width=200)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "│ with_logo │ 2" in text and "│ struck_lines │ 2" in text and "│ qa_status │ pass: 2" in text
    assert "list_price: 2" in text and "price_label: 2" in text


def test_a_found_poster_struck_price_is_read_without_its_strike_and_recorded_struck(tmp_path: Path):
    from ecomctl.dataset.ocr import read_lines, unstrike

    shutil.copy(ASSETS / "571507774301.png", tmp_path / "jar.png")
    shutil.copy(ASSETS / "logos" / "zhenyan.png", tmp_path / "logo.png")
    common = {"image": "jar.png", "title": "臻颜修护面霜", "price": "¥299", "list_price": "¥399", "logo": "logo.png",
              "points": "锁水|修护", "size": "640x640", "variants": "1"}
    # clean-studio: the recogniser reads this struck price as '66C夫' unless the strike is painted out first
    manifest = write_manifest(tmp_path / "m.csv", [{"sku": "A", **common, "style": "clean-studio"},
                                                   {"sku": "B", **common, "style": "warm-paper"}])
    (tmp_path / "fast.yaml").write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(tmp_path / "fast.yaml")])
    assert res.exit_code == 0, res.output
    for sample_id in ("A-v1", "B-v1"):
        poster = Image.open(out / sample_id[0] / f"{sample_id}.png").convert("RGB")
        want = next(ln for ln in _sidecar(out, sample_id)["layout"]["lines"] if ln["role"] == "list_price")
        lines, struck = unstrike(poster, read_lines(poster, {"threads": 1}), {"threads": 1})
        (n,) = struck  # the list price only: no plate edge, bullet or logo taken for a strike
        x0, y0, x1, y1 = want["box"]
        b = lines[n].box
        assert b.x0 < x1 and x0 < b.x1 and b.y0 < y1 and y0 < b.y1, (b, want["box"])
        assert lines[n].text.replace("￥", "¥") == want["text"], lines[n]


def test_found_poster_bullets_are_not_copy(rendered: Path):
    from ecomctl.dataset.from_posters import copy_candidates
    from ecomctl.dataset.ocr import BULLETS, read_lines

    confident_bullets = 0
    for sample_id in ("JAR-v1", "JAR-v2"):
        poster = Image.open(rendered / "JAR" / f"{sample_id}.png").convert("RGB")
        lines = read_lines(poster, {"threads": 1})
        confident_bullets += sum(set(ln.text) <= set(BULLETS) and ln.score >= 0.7 for ln in lines)
        copy = copy_candidates(lines, 0.7)
        assert copy and not [ln.text for ln in copy if ln.text[0] in BULLETS], [ln.text for ln in copy]
    assert confident_bullets >= 1  # the recogniser reads a list bullet as '●' with confidence: kept as copy before


def test_a_bullet_read_with_its_line_is_cut_from_its_text_and_box():
    from ecomctl.dataset.ocr import strip_bullet
    from ecomctl.text.fonts import load_font
    from ecomctl.text.ocr import OcrLine
    from ecomctl.types import Box

    img = Image.new("L", (260, 60), 230)
    draw = ImageDraw.Draw(img)
    draw.ellipse((10, 24, 22, 36), fill=30)  # a tag's punched hole / a bullet
    draw.text((40, 8), "¥328", font=load_font(40, 800), fill=30)
    ink = np.asarray(img) < 128
    xs, ys = np.nonzero(ink.any(axis=0))[0], np.nonzero(ink.any(axis=1))[0]
    line = OcrLine("·¥328", 0.9, Box(int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1))
    out = strip_bullet(np.asarray(img), line)
    text_x0 = int(np.nonzero(ink[:, 30:].any(axis=0))[0][0]) + 30
    assert (out.text, out.box.x0, out.box.x1) == ("¥328", text_x0, line.box.x1)
    assert strip_bullet(np.asarray(img), OcrLine("-50%", 0.9, line.box)) == OcrLine("-50%", 0.9, line.box)
