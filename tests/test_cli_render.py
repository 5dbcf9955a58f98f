"""`ecomctl render` end to end on the compose backend: outputs, resume, determinism, per-item errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import bad_and_good_manifest, make_product, write_manifest

runner = CliRunner()


def _render(manifest: Path, out: Path, config: Path, *extra: str):
    return runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(config), *extra])


def test_render_writes_posters_sidecars_and_reports(small_manifest: Path, fast_config: Path, tmp_path: Path):
    out = tmp_path / "out"
    res = _render(small_manifest, out, fast_config)
    assert res.exit_code == 0, res.output
    for name in ("A1/A1-v1.png", "A1/A1-v2.png", "B2/B2-v1.png", "A1/A1.mask.png", "A1/A1-v1.subject.png",
                 "run.yaml", "report.html", "report.json", "report.csv"):
        assert (out / name).is_file(), name
    side = json.loads((out / "A1" / "A1-v1.json").read_text())
    assert side["schema"] == "ecomctl.sidecar/2" and side["backend"]["name"] == "compose"
    assert side["subject"]["method"] == "alpha" and side["inputs"]["title"] == "保湿面霜 长效锁水"
    roles = {line["role"] for line in side["layout"]["lines"]}
    assert roles == {"title", "subtitle", "price", "badge"}
    assert set(side["timings"]) >= {"extract", "layout", "scene", "paste", "typeset", "qa", "total"}
    assert Image.open(out / "B2" / "B2-v1.png").size == (1200, 628)
    mask = Image.open(out / "A1" / "A1.mask.png")
    assert mask.size == Image.open(small_manifest.parent / "a.png").size  # source coordinates
    assert "3 posters" in res.stdout


def test_rerun_skips_finished_and_force_is_deterministic(small_manifest: Path, fast_config: Path,
                                                          tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    first = np.asarray(Image.open(out / "A1" / "A1-v2.png"))
    again = _render(small_manifest, out, fast_config)
    assert again.exit_code == 0 and again.stdout.count("(unchanged)") == 3
    forced = _render(small_manifest, out, fast_config, "--force")
    assert forced.exit_code == 0 and "unchanged" not in forced.stdout
    assert np.array_equal(first, np.asarray(Image.open(out / "A1" / "A1-v2.png")))


def test_changed_input_is_rerendered(small_manifest: Path, fast_config: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    make_product(small_manifest.parent / "b.png", (420, 300))
    res = _render(small_manifest, out, fast_config)
    lines = res.stdout.splitlines()
    assert "pass    B2-v1" in lines
    assert "pass    A1-v1 (unchanged)" in lines and "pass    A1-v2 (unchanged)" in lines


def test_one_bad_item_does_not_stop_the_batch(tmp_path: Path, fast_config: Path):
    path = bad_and_good_manifest(tmp_path)
    res = _render(path, tmp_path / "out", fast_config)
    assert res.exit_code == 1
    assert (tmp_path / "out" / "OK" / "OK-v1.png").is_file()
    bad = next(line for line in res.stdout.splitlines() if "BAD" in line)
    assert bad.startswith("error   BAD  ") and "cannot read image broken.png" in bad
    report = (tmp_path / "out" / "report.csv").read_text(encoding="utf-8")
    assert "BAD" in report and "cannot read image broken.png" in report


def test_unknown_backend_exits_2_with_one_line(small_manifest: Path, fast_config: Path, tmp_path: Path):
    res = _render(small_manifest, tmp_path / "out", fast_config, "--backend", "compse")
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0].startswith("error: unknown render backend 'compse'; did you mean 'compose'?")
    assert len(res.stderr.splitlines()) == 1


def test_product_pixels_are_exact_inside_the_mask(small_manifest: Path, fast_config: Path, tmp_path: Path):
    from ecomctl.store.posters import load_poster

    out = tmp_path / "out"
    assert _render(small_manifest, out, fast_config).exit_code == 0
    poster = load_poster(out / "A1" / "A1-v1.json")
    layer = np.asarray(poster.subject_layer)
    solid = layer[..., 3] == 255
    assert solid.sum() > 1000
    assert np.array_equal(np.asarray(poster.image)[solid], layer[..., :3][solid])


def test_report_says_which_extractor_made_each_mask_and_why(tmp_path: Path, fast_config: Path):
    make_product(tmp_path / "flat.png", alpha=False)
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "F", "image": "flat.png", "title": "无透明底 Photo", "size": "512x512", "variants": "1"}])
    out = tmp_path / "out"
    assert _render(path, out, fast_config).exit_code == 0
    item = json.loads((out / "report.json").read_text())["items"][0]
    assert item["subject"]["method"] == "saliency"
    assert item["subject"]["note"].startswith("alpha: image has no transparency; grounded-sam: ")
    side = json.loads((out / "F" / "F-v1.json").read_text())
    assert side["subject"]["note"] == item["subject"]["note"]
    assert "subject_fallback" in (out / "report.csv").read_text(encoding="utf-8").splitlines()[0]
    html = (out / "report.html").read_text()  # the method shows, the long note folds under it
    assert '<summary>mask: saliency (fallback)</summary>alpha: image has no transparency' in html


def test_second_run_on_the_same_folder_is_refused_while_one_holds_it(small_manifest: Path, fast_config: Path,
                                                                       tmp_path: Path):
    from filelock import FileLock

    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / ".ecomctl.lock")):  # as a running job would hold it
        res = _render(small_manifest, out, fast_config)
    assert res.exit_code == 2
    assert res.stderr.strip() == (f"error: {out} is being written by another ecomctl run (lock "
                                  f"{out / '.ecomctl.lock'}); wait for it to finish or use another --out")
    assert not (out / "A1").exists()
    assert _render(small_manifest, out, fast_config).exit_code == 0  # released: the next run works


def test_replan_says_how_many_posters_were_replanned_and_rerendered(tmp_path: Path, monkeypatch):
    """`--replan` after a layout change to split-right (B2's template): the run line, B2's line and the
    unchanged A1 lines, exactly."""
    from tests.test_resume import _new_release, _two_templates_manifest

    manifest = _two_templates_manifest(tmp_path)
    config = tmp_path / "serial.yaml"  # in this process: the changed layout code reaches the worker
    config.write_text("run:\n  executor: serial\nqa:\n  text:\n    enabled: false\n", encoding="utf-8")
    out = tmp_path / "out"
    assert _render(manifest, out, config).exit_code == 0
    _new_release(monkeypatch, "split-right")
    plain = _render(manifest, out, config)
    assert plain.exit_code == 0 and plain.stdout.count("(unchanged)") == 3 and "re-planned" not in plain.stdout
    res = _render(manifest, out, config, "--replan")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "pass    A1-v1 (unchanged)" in lines and "pass    A1-v2 (unchanged)" in lines
    assert "pass    B2-v1 (re-rendered: layout changed)" in lines
    last = [line for line in lines if line.startswith("3 posters in ")]
    assert len(last) == 1 and re.fullmatch(
        r"3 posters in \d+\.\ds \(pass 3; 2 unchanged since the last run, 3 re-planned, 1 re-rendered "
        r"\(layout changed\)\); report: .*report\.html", last[0]), last
    log = tmp_path / "events.jsonl"
    again = _render(manifest, out, config, "--replan", "--log-json", str(log))
    assert again.exit_code == 0 and "3 re-planned, 0 re-rendered (layout changed)" in again.stdout
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert events[0]["replan"] is True
    assert [(e["sku"], e["replanned"], e["layout_changed"]) for e in events if e["event"] == "item"] == [
        ("A1", True, False), ("A1", True, False), ("B2", True, False)]
    assert events[-1]["counts"]["replanned"] == 3 and events[-1]["counts"]["layout_changed"] == 0
