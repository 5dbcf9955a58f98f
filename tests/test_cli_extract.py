"""`ecomctl extract`: cutouts, masks, overlays, contact sheet; per-item errors; exit codes; model errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import make_product, write_manifest

runner = CliRunner()


def _extract(manifest: Path, out: Path, *extra: str):
    return runner.invoke(app, ["extract", str(manifest), "--out", str(out), *extra])


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    make_product(tmp_path / "cut.png")  # transparent → alpha
    make_product(tmp_path / "flat.png", (360, 300), alpha=False)  # no alpha → saliency (U²-Net-p, bundled)
    Image.new("RGB", (200, 200), (240, 238, 236)).save(tmp_path / "blank.jpg")  # nothing to find
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    return write_manifest(tmp_path / "m.csv", [
        {"sku": "CUT", "image": "cut.png", "title": "a", "subject": "bottle"},
        {"sku": "FLAT", "image": "flat.png", "title": "b"},
        {"sku": "BLANK", "image": "blank.jpg", "title": "c"},
        {"sku": "BROKEN", "image": "broken.png", "title": "d"},
    ])


def _no_weights_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "noweights.yaml"
    cfg.write_text(f"subject:\n  grounded-sam:\n    detector: {tmp_path / 'missing-detector'}\n", encoding="utf-8")
    return cfg


def test_extract_writes_outputs_records_errors_and_exits_1(catalog: Path, tmp_path: Path):
    out = tmp_path / "out"
    res = _extract(catalog, out, "--config", str(_no_weights_config(tmp_path)))
    assert res.exit_code == 1, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "ok      CUT  alpha"
    assert lines[1].startswith("ok      FLAT  saliency  (fallback: alpha: image has no transparency; grounded-sam: ")
    assert lines[2].startswith("error   BLANK  no extractor found the product (alpha: image has no transparency; "
                               f"grounded-sam: {tmp_path / 'missing-detector'}: local model folder does not exist; "
                               "studio: mask is empty after cleanup; saliency: no salient object (map peak 0.")
    assert lines[2].endswith("; classical: nothing stands out from the background)")
    assert lines[3] == (f"error   BROKEN  {catalog}:5: cannot read image broken.png: not an image file Pillow "
                        "can read, or its header is corrupt")
    assert lines[4].startswith("4 SKUs in ") and lines[4].endswith(f"(2 ok, 2 failed); contact sheet: {out / 'contact_sheet.png'}")
    for sku, size in (("CUT", (300, 400)), ("FLAT", (360, 300))):
        mask = Image.open(out / sku / f"{sku}.mask.png")
        assert mask.mode == "L" and mask.size == size  # source-image coordinates
        cut = Image.open(out / sku / f"{sku}.cutout.png")
        assert cut.mode == "RGBA" and np.asarray(cut)[..., 3].min() < 10  # cropped to bbox, alpha kept
        assert Image.open(out / sku / f"{sku}.overlay.jpg").size == size
    assert not (out / "BLANK").exists()
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.width > 600 and sheet.height > 500  # 4 tiles, 3 per row → 2 rows
    summary = json.loads((out / "extract.json").read_text(encoding="utf-8"))
    assert [i["status"] for i in summary["items"]] == ["ok", "ok", "error", "error"]
    assert summary["items"][1]["method"] == "saliency"
    assert summary["items"][1]["confidence"] >= 0.8 and summary["items"][0]["confidence"] == 1.0
    assert "local model folder does not exist" in summary["items"][1]["note"]


def test_all_ok_exits_0_with_explicit_classical(tmp_path: Path):
    make_product(tmp_path / "flat.png", alpha=False)
    manifest = write_manifest(tmp_path / "m.csv", [{"sku": "F", "image": "flat.png", "title": "t"}])
    res = _extract(manifest, tmp_path / "out", "--method", "classical")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == "ok      F  classical"
    mask = np.asarray(Image.open(tmp_path / "out" / "F" / "F.mask.png"))
    truth = np.asarray(Image.open(make_product(tmp_path / "truth.png")).getchannel("A")) > 127
    assert (mask[truth] > 127).mean() > 0.98 and (mask[~truth] > 127).mean() < 0.01


def test_missing_model_folder_exits_2_with_one_line(catalog: Path, tmp_path: Path):
    res = _extract(catalog, tmp_path / "out", "--method", "grounded-sam", "--config", str(_no_weights_config(tmp_path)))
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [(
        f"error: subject extractor 'grounded-sam' unavailable: {tmp_path / 'missing-detector'}: "
        "local model folder does not exist")]
    assert not (tmp_path / "out").exists()


def test_unknown_hub_id_offline_exits_2_with_one_line(catalog: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("subject:\n  grounded-sam:\n    segmenter: acme/sam-nope\n    detector: acme/dino-nope\n")
    res = _extract(catalog, tmp_path / "out", "--method", "grounded-sam", "--config", str(cfg))
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [(
        "error: subject extractor 'grounded-sam' unavailable: weights for acme/dino-nope are not in the local "
        "Hugging Face cache and HF_HUB_OFFLINE=1 is set; run `huggingface-cli download acme/dino-nope` or point "
        "the config at a local folder")]


def test_unknown_method_exits_2_with_suggestion(catalog: Path, tmp_path: Path):
    res = _extract(catalog, tmp_path / "out", "--method", "clasical")
    assert res.exit_code == 2
    assert res.output.strip() == ("error: unknown subject extractor 'clasical'; did you mean 'classical'? "
                                  "(known: alpha, classical, grounded-sam, saliency)")


def test_bad_manifest_exits_2(tmp_path: Path):
    manifest = write_manifest(tmp_path / "m.csv", [{"sku": "X", "image": "nope.png", "title": "t"}])
    res = _extract(manifest, tmp_path / "out")
    assert res.exit_code == 2
    assert res.output.strip() == f"error: {manifest}:2:2: image: file not found: nope.png"


@pytest.mark.models
def test_tiny_grounded_sam_through_the_cli(tmp_path: Path):
    from tiny_grounded_sam import build_tiny_grounded_sam

    det, seg = build_tiny_grounded_sam(tmp_path / "models")
    cfg = tmp_path / "gsam.yaml"
    cfg.write_text(f"subject:\n  grounded-sam:\n    detector: {det}\n    segmenter: {seg}\n"
                   "    box_threshold: 0.0\n    text_threshold: 0.0\n    batch_size: 2\n", encoding="utf-8")
    for name, size in (("a.png", (160, 120)), ("b.png", (100, 140)), ("c.png", (120, 120))):
        make_product(tmp_path / name, size, alpha=False)
    manifest = write_manifest(tmp_path / "m.csv", [
        {"sku": s, "image": f"{s.lower()}.png", "title": "t", "subject": "perfume bottle"} for s in "ABC"])
    res = _extract(manifest, tmp_path / "out", "--method", "grounded-sam", "--config", str(cfg))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:3] == ["ok      A  grounded-sam", "ok      B  grounded-sam",
                                           "ok      C  grounded-sam"]
    for sku, size in (("A", (160, 120)), ("B", (100, 140)), ("C", (120, 120))):
        assert Image.open(tmp_path / "out" / sku / f"{sku}.mask.png").size == size


def test_studio_fast_path_setting_reaches_the_chain_and_a_bad_value_is_exit_2(tmp_path: Path):
    from tests.backdrops import flatten_over
    from tests.conftest import ROOT

    packshot = Image.open(ROOT / "manifests" / "assets" / "809702153676.png")
    flatten_over(packshot, "paper", 0.0, 0.0).save(tmp_path / "studio.jpg", quality=95)
    manifest = write_manifest(tmp_path / "m.csv", [{"sku": "S", "image": "studio.jpg", "title": "s"}])
    res = _extract(manifest, tmp_path / "out")  # default: on, seeded saliency
    assert res.exit_code == 0, res.output
    item = json.loads((tmp_path / "out" / "extract.json").read_text(encoding="utf-8"))["items"][0]
    assert item["method"] == "saliency" and "studio: plain backdrop" in item["note"]
    assert "seeded zoom pass" in item["note"]
    cfg = tmp_path / "off.yaml"
    cfg.write_text("subject:\n  studio_fast_path: false\n", encoding="utf-8")
    res = _extract(manifest, tmp_path / "out1", "--config", str(cfg))
    assert res.exit_code == 0, res.output
    item = json.loads((tmp_path / "out1" / "extract.json").read_text(encoding="utf-8"))["items"][0]
    assert item["method"] == "saliency" and "studio" not in (item["note"] or "")
    cfg.write_text("subject:\n  studio:\n    min_confidense: 0.5\n", encoding="utf-8")
    res = _extract(manifest, tmp_path / "out2", "--config", str(cfg))
    assert res.exit_code == 2, res.output
    assert "config subject.studio: unknown key(s) min_confidense" in res.output


def test_extract_reads_a_sheet_and_columns_like_render(tmp_path: Path):
    openpyxl = pytest.importorskip("openpyxl")
    make_product(tmp_path / "cut.png")
    wb = openpyxl.Workbook()
    wb.active.title = "Old"
    wb.active.append(["sku", "image", "title"])
    wb.active.append(["OLD", "gone.png", "t"])
    spring = wb.create_sheet("Spring")
    spring.append(["Article", "Bild", "Name"])
    spring.append(["A-7", "cut.png", "Creme"])
    wb.save(tmp_path / "artikel.xlsx")
    res = _extract(tmp_path / "artikel.xlsx", tmp_path / "out", "--sheet", "Spring",
                   "--columns", "sku=Article,image=Bild,title=Name")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == "ok      A-7  alpha"
    res = _extract(tmp_path / "artikel.xlsx", tmp_path / "out")  # the first sheet, as render reads it
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {tmp_path / 'artikel.xlsx'}:2:B: image: file not found: gone.png"]
