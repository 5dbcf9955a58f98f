"""End to end: a manifest with a logo, selling points and a list price renders on square, story and banner
canvases with QA pass — every drawn line read back by OCR (the struck-through list price too), the logo
where the sidecar says — and `ecomctl qa` re-grades it the same; a covered logo fails, a dropped element
warns by name, a logo that is not an image is that SKU's error row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.config import load_config
from ecomctl.qa import check_poster
from ecomctl.store.posters import load_poster
from tests.conftest import ROOT, write_manifest

runner = CliRunner()
ASSETS = ROOT / "manifests" / "assets"


def _sidecars(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*/*-v*.json"))}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("brand")
    shutil.copy(ASSETS / "652158680541.png", root / "can.png")
    shutil.copy(ASSETS / "logos" / "bebamom.png", root / "logo.png")
    common = {"image": "can.png", "title": "有机婴幼儿配方奶粉", "subtitle": "Infant formula with HMO",
              "price": "¥328", "list_price": "¥398", "price_label": "到手价", "logo": "logo.png",
              "points": "含HMO母乳低聚糖|0添加蔗糖|有机奶源", "subject": "milk powder can", "variants": "1"}
    manifest = write_manifest(root / "m.csv", [
        {"sku": "SQ", **common, "size": "1024x1024"},
        {"sku": "ST", **common, "size": "story"},
        {"sku": "BN", **common, "size": "banner"},
    ])
    out = root / "out"
    res = runner.invoke(app, ["render", str(manifest), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return manifest, out


def test_square_story_banner_pass_qa_with_every_line_read_back(rendered):
    _, out = rendered
    sidecars = _sidecars(out)
    assert set(sidecars) == {"SQ-v1", "ST-v1", "BN-v1"}
    for name, d in sidecars.items():
        qa = d["qa"]
        assert qa["status"] == "pass", (name, [c for c in qa["checks"] if c["status"] != "pass"])
        roles = [ln["role"] for ln in d["layout"]["lines"]]
        assert {"title", "price", "price_label", "list_price", "point"} <= set(roles), (name, roles)
        assert roles.count("point") + sum("points" in x for x in d["layout"].get("dropped", [])) >= 2
        reads = qa["details"]["text"]["lines"]
        assert len(reads) == len(roles)
        assert all(r["exact"] for r in reads), (name, [r for r in reads if not r["exact"]])
        assert any(r["role"] == "list_price" and r["read"] == "¥398" for r in reads), name
        checks = {c["name"]: c for c in qa["checks"]}
        assert checks["layout.logo"]["value"] == 1.0 and checks["layout.overlap"]["value"] == 0


def test_the_logo_is_where_the_sidecar_says(rendered):
    _, out = rendered
    logo = Image.open(ASSETS / "logos" / "bebamom.png").convert("RGBA")
    for name, d in _sidecars(out).items():
        box = d["layout"]["logo"]["box"]
        x0, y0, x1, y1 = box
        assert abs((x1 - x0) / (y1 - y0) - logo.width / logo.height) < 0.05, name
        poster = np.asarray(Image.open(out / d["sku"] / d["image"]).convert("RGB")).astype(int)
        drawn = logo.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
        a = np.asarray(drawn)
        solid = a[..., 3] == 255
        assert solid.mean() > 0.08  # a wordmark: thin strokes
        assert (np.abs(poster[y0:y1, x0:x1][solid] - a[..., :3][solid]).max(axis=1) <= 12).mean() > 0.99, name
        layer = out / d["sku"] / d["layout"]["logo"]["file"]
        assert layer.is_file() and Image.open(layer).size == (x1 - x0, y1 - y0)
        subject = d["subject"]["box"]
        assert not (x0 < subject[2] and subject[0] < x1 and y0 < subject[3] and subject[1] < y1)


def test_ecomctl_qa_regrades_the_brand_checks_the_same(rendered, tmp_path):
    _, out = rendered
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    before = {k: d["qa"]["checks"] for k, d in _sidecars(copy).items()}
    res = runner.invoke(app, ["qa", str(copy)])
    assert res.exit_code == 0, res.output
    after = {k: d["qa"]["checks"] for k, d in _sidecars(copy).items()}
    assert after == before


def test_a_covered_logo_fails_and_the_reason_names_its_box(rendered):
    _, out = rendered
    sidecar = out / "SQ" / "SQ-v1.json"
    poster = load_poster(sidecar)
    box = poster.layout.logo
    image = poster.image.copy()
    ImageDraw.Draw(image).rectangle((box.x0, box.y0, box.x1, (box.y0 + box.y1) // 2), fill=(255, 0, 0))
    from dataclasses import replace

    qa = check_poster(replace(poster, image=image), load_config(None))
    logo = next(c for c in qa.checks if c.name == "layout.logo")
    assert logo.status == "fail" and str(box.as_list()) in logo.reason
    assert qa.status == "fail"


def test_a_canvas_too_small_warns_naming_what_was_dropped(tmp_path):
    shutil.copy(ASSETS / "652158680541.png", tmp_path / "can.png")
    shutil.copy(ASSETS / "logos" / "bebamom.png", tmp_path / "logo.png")
    manifest = write_manifest(tmp_path / "m.csv", [{
        "sku": "TINY", "image": "can.png", "title": "Organic Infant Formula", "subtitle": "With HMO for stage 3",
        "price": "¥328", "list_price": "¥398", "logo": "logo.png", "size": "400x400", "variants": "1",
        "points": "Human milk sugars (HMO)|No added sucrose at all|Organic dairy farms|Made in New Zealand"}])
    out = tmp_path / "out"
    res = runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(_no_ocr(tmp_path))])
    assert res.exit_code == 0, res.output
    d = _sidecars(out)["TINY-v1"]
    assert d["layout"]["dropped"][0] == "points[2:]"
    dropped = next(c for c in d["qa"]["checks"] if c["name"] == "layout.dropped")
    assert dropped["status"] == "warn" and d["qa"]["status"] == "warn"
    assert dropped["reason"].startswith("the canvas could not hold all of the copy: dropped points[2:]")
    assert "Organic dairy farms" not in [ln["text"] for ln in d["layout"]["lines"]]


def _no_ocr(folder: Path) -> Path:
    p = folder / "fast.yaml"
    p.write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    return p


def test_a_logo_that_is_not_an_image_is_that_skus_error_row(tmp_path):
    shutil.copy(ASSETS / "652158680541.png", tmp_path / "can.png")
    (tmp_path / "logo.png").write_bytes(b"not a png at all")
    manifest = write_manifest(tmp_path / "m.csv", [
        {"sku": "BAD", "image": "can.png", "title": "t", "price": "¥1", "logo": "logo.png", "size": "512x512",
         "variants": "1"},
        {"sku": "OK", "image": "can.png", "title": "好", "price": "¥1", "size": "512x512", "variants": "1"},
    ])
    out = tmp_path / "out"
    res = runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(_no_ocr(tmp_path))])
    assert res.exit_code == 1, res.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    rows = {r["sku"]: r for r in report["items"]}
    assert rows["OK"]["status"] == "pass"
    assert rows["BAD"]["status"] == "error"
    assert rows["BAD"]["error"] == (f"{manifest}:2: logo: cannot read image logo.png: not an image file Pillow "
                                    "can read, or its header is corrupt")
