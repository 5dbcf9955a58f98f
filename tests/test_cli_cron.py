"""Nightly-cron surface of `ecomctl render`: --log-json event lines, --quiet output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import bad_and_good_manifest

runner = CliRunner()


def _render(manifest: Path, out: Path, config: Path, *extra: str):
    return runner.invoke(app, ["render", str(manifest), "--out", str(out), "--config", str(config), *extra])


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_log_json_writes_start_one_line_per_poster_and_end(small_manifest: Path, fast_config: Path,
                                                           tmp_path: Path):
    log = tmp_path / "logs" / "nightly.jsonl"
    res = _render(small_manifest, tmp_path / "out", fast_config, "--log-json", str(log))
    assert res.exit_code == 0, res.output
    events = _events(log)
    assert [e["event"] for e in events] == ["run_start", "item", "item", "item", "run_end"]
    start, items, end = events[0], events[1:-1], events[-1]
    assert start["posters"] == 3 and start["skus"] == 2 and start["executor"] == "serial"
    assert start["schema"] == "ecomctl.events/1" and start["backend"] == "compose"
    assert sorted((e["sku"], e["variant"]) for e in items) == [("A1", 1), ("A1", 2), ("B2", 1)]
    for e in items:
        assert e["status"] == "pass" and e["resumed"] is False and e["image"].endswith(f"-v{e['variant']}.png")
        assert {"extract", "layout", "scene", "typeset", "qa", "total"} <= e["timings"].keys()
        assert e["timings"]["total"] > 0 and "subject.iou" in e["qa"]
    assert end["exit_code"] == 0 and end["items"] == 3 and end["counts"]["pass"] == 3
    assert len({e["run"] for e in events}) == 1  # one run id groups the lines of one run


def test_log_json_appends_and_marks_resumed_posters(small_manifest: Path, fast_config: Path, tmp_path: Path):
    log = tmp_path / "run.jsonl"
    for _ in range(2):
        assert _render(small_manifest, tmp_path / "out", fast_config, "--log-json", str(log)).exit_code == 0
    events = _events(log)
    assert len(events) == 10 and len({e["run"] for e in events}) == 2
    second = [e for e in events[5:] if e["event"] == "item"]
    assert all(e["resumed"] for e in second) and events[-1]["counts"]["resumed"] == 3
    assert all(e["timings"] == {} for e in second)  # nothing ran for them tonight
    assert all(e["timings"]["total"] > 0 for e in events[:5] if e["event"] == "item")


def test_log_json_records_item_errors_and_run_errors(tmp_path: Path, fast_config: Path):
    path = bad_and_good_manifest(tmp_path)
    log = tmp_path / "run.jsonl"
    assert _render(path, tmp_path / "out", fast_config, "--log-json", str(log)).exit_code == 1
    bad = next(e for e in _events(log) if e.get("sku") == "BAD")
    assert bad["status"] == "error" and bad["variant"] is None and "cannot read image" in bad["error"]
    assert _events(log)[-1]["exit_code"] == 1
    (tmp_path / "gone.csv").write_text("sku,image,title\nX,missing.png,T\n", encoding="utf-8")
    res = _render(tmp_path / "gone.csv", tmp_path / "out2", fast_config, "--log-json", str(log))
    assert res.exit_code == 2
    last = _events(log)[-1]
    assert last["event"] == "run_error" and last["exit_code"] == 2 and "file not found" in last["error"]


def test_log_json_target_that_cannot_be_opened_exits_2(small_manifest: Path, fast_config: Path, tmp_path: Path):
    res = _render(small_manifest, tmp_path / "out", fast_config, "--log-json", str(tmp_path))
    assert res.exit_code == 2 and res.stderr.startswith(f"error: --log-json {tmp_path}: cannot open for appending")
    assert not (tmp_path / "out").exists()


def test_quiet_prints_nothing_when_all_pass(small_manifest: Path, fast_config: Path, tmp_path: Path):
    res = _render(small_manifest, tmp_path / "out", fast_config, "--quiet")
    assert res.exit_code == 0 and res.output == ""


def test_quiet_prints_only_the_problems_when_the_run_fails(tmp_path: Path, fast_config: Path):
    path = bad_and_good_manifest(tmp_path)
    res = _render(path, tmp_path / "out", fast_config, "-q")
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error   BAD  ") and "OK" not in lines[0]
    assert lines[1] == f"0 failed, 1 error of 2 posters; report: {tmp_path / 'out' / 'report.html'}"
