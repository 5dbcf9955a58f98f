"""`ecomctl qa OUT`: recompute QA from sidecars after a threshold change; exact exit codes and messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import make_product, write_manifest

runner = CliRunner()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """One SKU, two 512×512 variants rendered by the compose backend (text QA off while rendering), with
    the background layer kept so the subject checks compare against the exact composite."""
    root = tmp_path_factory.mktemp("qa_cli")
    make_product(root / "p.png")
    manifest = write_manifest(root / "m.csv", [
        {"sku": "P1", "image": "p.png", "title": "保湿面霜 长效锁水", "subtitle": "Deep hydration",
         "price": "¥99", "size": "512x512", "variants": "2"}])
    (root / "fast.yaml").write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    res = runner.invoke(app, ["render", str(manifest), "--out", str(root / "out"), "--config", str(root / "fast.yaml"),
                              "--keep-layers"])
    assert res.exit_code == 0, res.output
    return root / "out"


@pytest.fixture
def out(rendered: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(rendered, copy)
    return copy


def sidecar(out: Path, v: int = 1) -> dict:
    return json.loads((out / "P1" / f"P1-v{v}.json").read_text(encoding="utf-8"))


def test_qa_recomputes_with_ocr_and_rewrites_sidecars_and_reports(out: Path):
    for name in ("report.html", "report.json", "report.csv"):
        (out / name).unlink()
    (out / "P1" / "notes.json").write_text('{"schema": "something/else"}', encoding="utf-8")  # not a sidecar
    res = runner.invoke(app, ["qa", str(out), "--set", "qa.text.enabled=true"])  # the run had text QA off
    assert res.exit_code == 0, res.output
    assert "pass    P1-v1" in res.stdout and "pass    P1-v2" in res.stdout
    assert f"report: {out / 'report.html'}" in res.stdout
    checks = {c["name"]: c for c in sidecar(out)["qa"]["checks"]}
    assert checks["text.sen_acc"]["value"] == 1.0 and checks["subject.iou"]["value"] >= 0.99  # text QA ran now
    assert sidecar(out)["qa"]["details"]["subject"]["background_known"] is True
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["schema"] == "ecomctl.report/1" and [i["name"] for i in report["items"]] == ["P1-v1", "P1-v2"]
    assert (out / "report.csv").is_file() and (out / "report.html").is_file()


def test_plain_qa_judges_with_the_runs_settings(out: Path):
    res = runner.invoke(app, ["qa", str(out)])  # run.yaml says qa.text.enabled: false
    assert res.exit_code == 0, res.output
    names = {c["name"] for c in sidecar(out)["qa"]["checks"]}
    assert "subject.iou" in names and "text.ned" not in names
    assert json.loads((out / "report.json").read_text())["thresholds"]["text"]["enabled"] is False


def test_threshold_change_turns_pass_into_fail(out: Path):
    res = runner.invoke(app, ["qa", str(out), "--set", "qa.text.enabled=false",
                              "--set", "qa.layout.contrast_warn=30", "--set", "qa.layout.contrast_fail=25"])
    assert res.exit_code == 1, res.output
    assert "fail    P1-v1" in res.stdout and "contrast" in res.stdout
    qa = sidecar(out)["qa"]
    assert qa["status"] == "fail"
    assert any(c["name"] == "layout.contrast" and c["status"] == "fail" for c in qa["checks"])
    assert json.loads((out / "report.json").read_text())["summary"]["status"]["fail"] == 2


def test_threshold_file_is_read(out: Path, tmp_path: Path):
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("qa:\n  text: {enabled: false}\n  subject: {iou_warn: 1.5, iou_fail: 1.2}\n", encoding="utf-8")
    res = runner.invoke(app, ["qa", str(out), "--config", str(cfg), "--quiet"])
    assert res.exit_code == 1 and "P1-v1" in res.stdout and "IoU" in res.stdout


def test_damaged_poster_fails_naming_the_line(out: Path):
    side = sidecar(out, 2)
    title = next(ln for ln in side["layout"]["lines"] if ln["role"] == "title")
    png = out / "P1" / "P1-v2.png"
    img = Image.open(png).convert("RGB")
    x0, y0, x1, y1 = title["box"]
    ImageDraw.Draw(img).rectangle((x0 + (x1 - x0) // 4, y0 - 2, x1 - (x1 - x0) // 4, y1 + 2), fill=(200, 40, 40))
    img.save(png)
    res = runner.invoke(app, ["qa", str(out), "--set", "qa.text.enabled=true"])
    assert res.exit_code == 1
    assert "pass    P1-v1" in res.stdout and "fail    P1-v2" in res.stdout
    reason = next(c["reason"] for c in sidecar(out, 2)["qa"]["checks"] if c["name"] == "text.ned")
    assert reason.startswith(f'title line 1 "{title["text"]}" read as ')


def test_qa_does_not_need_the_source_photo(out: Path, rendered: Path):
    """The store keeps the placed product and the scene under it: a moved photo changes no figure."""
    before = sidecar(out)["qa"]["checks"]
    data = sidecar(out)
    data["inputs"]["image"] = str(rendered.parent / "moved-away.png")
    (out / "P1" / "P1-v1.json").write_text(json.dumps(data), encoding="utf-8")
    res = runner.invoke(app, ["qa", str(out)])
    assert res.exit_code == 0, res.output
    assert sidecar(out)["qa"]["checks"] == before


def test_missing_layer_is_an_error_row(out: Path):
    (out / "P1" / "P1-v1.cutout.png").unlink()
    res = runner.invoke(app, ["qa", str(out)])
    assert res.exit_code == 1
    assert "error   P1-v1  cannot rebuild poster from P1-v1.json: " in res.stdout
    assert "P1-v1.cutout.png: cannot read layer" in res.stdout
    assert "pass    P1-v2" in res.stdout


@pytest.mark.parametrize(("damage", "says"), [
    (lambda d: "{not json", "sidecar is not JSON: "),
    (lambda d: "[1, 2]", "sidecar is not a JSON object"),
    (lambda d: json.dumps(d | {"schema": "ecomctl.sidecar/1"}),
     "field schema: 'ecomctl.sidecar/1' is not 'ecomctl.sidecar/2'"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "layout"}), "field layout: Field required"),
    (lambda d: json.dumps(d | {"variant": "two"}), "field variant: Input should be a valid integer"),
    (lambda d: json.dumps(d | {"files": d["files"] | {"cutout": "../../etc/passwd"}}),
     "field files.cutout: String should match pattern"),
])
def test_garbage_sidecar_is_an_error_row_naming_file_and_field(out: Path, damage, says):
    path = out / "P1" / "P1-v2.json"
    path.write_text(damage(sidecar(out, 2)), encoding="utf-8")
    res = runner.invoke(app, ["qa", str(out)])
    assert res.exit_code == 1
    line = next(ln for ln in res.stdout.splitlines() if "P1-v2" in ln and ln.startswith("error"))
    assert f"cannot rebuild poster from P1-v2.json: {path}: {says}" in line, line
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    row = next(i for i in report["items"] if i["name"] == "P1-v2")  # in the reports, never dropped
    assert row["status"] == "error" and says in row["error"]


def test_cannot_run_exits_2(tmp_path: Path):
    res = runner.invoke(app, ["qa", str(tmp_path / "nope")])
    assert res.exit_code == 2 and f"error: {tmp_path / 'nope'}: no such output folder" in res.stderr
    res = runner.invoke(app, ["qa", str(tmp_path)])
    assert res.exit_code == 2 and "no poster sidecars found (expected <sku>/<sku>-v<k>.json)" in res.stderr
    res = runner.invoke(app, ["qa", str(tmp_path), "--set", "qa.text"])
    assert res.exit_code == 2 and "error: --set 'qa.text': expected KEY=VALUE" in res.stderr


def test_invalid_threshold_exits_2(out: Path):
    res = runner.invoke(app, ["qa", str(out), "--set", "qa.subject.iou=0.5"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == ["error: --set qa.subject.iou: config qa.subject.iou: Extra inputs are not permitted"]


def test_unavailable_ocr_engine_stops_before_any_poster(out: Path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "paddleocr", None)
    before = sidecar(out)["qa"]
    res = runner.invoke(app, ["qa", str(out), "--set", "qa.text.enabled=true", "--set", "ocr.engine=paddleocr"])
    assert res.exit_code == 2
    assert "error: OCR engine 'paddleocr' unavailable: paddleocr is not installed" in res.stderr
    assert sidecar(out)["qa"] == before  # nothing rewritten


def test_render_with_a_bad_qa_threshold_exits_2_before_rendering(tmp_path: Path):
    make_product(tmp_path / "p.png")
    manifest = write_manifest(tmp_path / "m.csv", [{"sku": "Q1", "image": "p.png", "title": "Test", "size": "256x256"}])
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("qa:\n  subject:\n    iou_typo: 0.5\n", encoding="utf-8")
    res = runner.invoke(app, ["render", str(manifest), "--out", str(tmp_path / "out"), "--config", str(cfg)])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {cfg}: config qa.subject.iou_typo: Extra inputs are not permitted"]
    assert not (tmp_path / "out" / "Q1").exists()


def test_a_bad_threshold_order_names_its_file_variable_or_flag_and_the_direction(out: Path, tmp_path: Path):
    """The error line says where the bad value came from (--config < env < --set) and the order in words."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("qa:\n  layout:\n    contrast_fail: 0.9\n    contrast_warn: 0.5\n", encoding="utf-8")
    res = runner.invoke(app, ["qa", str(out), "-c", str(cfg)], env={})
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [(f"error: {cfg}: config qa.layout.contrast_fail: fail limit 0.9 is above the "
                                       "warn limit 0.5 (a lower value is worse)")]
    env = {"ECOMCTL__QA__LAYOUT__OVERLAP_FAIL": "0.01"}
    res = runner.invoke(app, ["qa", str(out), "-c", str(cfg), "--set", "qa.layout.contrast_fail=0.1"], env=env)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [("error: ECOMCTL__QA__LAYOUT__OVERLAP_FAIL: config qa.layout.overlap_fail: "
                                       "fail limit 0.01 is below the warn limit 0.02 (a higher value is worse)")]
    res = runner.invoke(app, ["qa", str(out), "--set", "qa.subject.iou_fail=0.999"], env={})
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [("error: --set qa.subject.iou_fail: config qa.subject.iou_fail: fail limit "
                                       "0.999 is above the warn limit 0.99 (a lower value is worse)")]
