"""A run's report rows are spooled as results arrive and streamed into the writers: memory does not grow with
the run, and the reports are the ones the rows in memory would give."""

from __future__ import annotations

import csv
import json
import re
import tracemalloc
from pathlib import Path

import pytest

from ecomctl.config import load_config
from ecomctl.qa import write_reports
from ecomctl.qa.report import ReportSpool, report_data, report_rows, slim
from ecomctl.qa.report_html import page_context, stream_context, template
from ecomctl.types import Check, ItemResult, QAResult
from tests.test_qa_report import sample_results

STATUSES = ("pass", "pass", "warn", "pass", "fail", "pass", "pass", "pass", "pass", "pass")


def synthetic(i: int, detail_kb: int = 0) -> ItemResult:
    """A poster result like a worker's: 16 checks, per-line OCR details (`detail_kb` of padding more)."""
    status = STATUSES[i % len(STATUSES)]
    checks = tuple(Check(f"m.{k:02d}", k + i / 1000, "pass") for k in range(15)) + (
        Check("text.ned", 0.5 if status != "pass" else 1.0, status, "" if status == "pass" else f"line of S{i}"),)
    lines = [{"label": f"title line {k}", "text": f"商品 {i} 第{k}行", "read": f"商品 {i} 第{k}行", "ned": 1.0,
              "exact": True, "box": [0, 0, 10, 10]} for k in range(4)]
    details = {"text": {"lines": lines, "pad": "x" * (detail_kb * 1024)}, "subject": {"iou": 0.99}}
    return ItemResult(sku=f"S{(i * 7919) % 100003:06d}", variant=1 + i % 2, status=status, qa=QAResult(status, checks, details),
                      seconds=0.25, where=f"m.csv:{i + 2}", campaign="c" if i % 3 == 0 else None)


def _reports(out: Path) -> tuple[dict, str, str]:
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    data.pop("created")
    html = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "CREATED",  # two writes may straddle a second
                  (out / "report.html").read_text(encoding="utf-8"))
    return data, (out / "report.csv").read_text(encoding="utf-8"), html


def test_spooled_to_a_file_or_kept_in_memory_the_reports_are_the_same(tmp_path: Path):
    cfg = load_config(None, {"qa.report.max_rows": 40})
    results = [synthetic(i) for i in range(300)]
    small, spilled = tmp_path / "mem", tmp_path / "file"
    with ReportSpool(small, results) as a:
        write_reports(small, a, cfg)
    with ReportSpool(spilled, results, memory=4096) as b:
        assert b._file is not None and b._file_size > 0  # most rows went to the temporary file
        assert list(b.rows()) == report_rows(results, spilled)  # back in report order: failures first
        write_reports(spilled, b, cfg)
    (ja, ca, ha), (jb, cb, hb) = _reports(small), _reports(spilled)
    ja.pop("out_dir"), jb.pop("out_dir")
    assert ja == jb and ca == cb
    assert ha.replace(str(small.resolve()), "OUT") == hb.replace(str(spilled.resolve()), "OUT")
    # the spool file has no name: nothing is left behind but the reports' content key
    assert [p.name for p in (spilled / ".cache").iterdir()] == ["report.key"]


def test_a_large_report_json_is_streamed_compact_and_equal_to_the_document(tmp_path: Path):
    from ecomctl.qa.report import INDENT_ROWS

    results = [synthetic(i) for i in range(INDENT_ROWS + 50)]
    write_reports(tmp_path, results, load_config(environ={}))
    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert "\n" not in text.rstrip("\n")  # compact
    data = json.loads(text)
    expected = report_data(report_rows(results, tmp_path), tmp_path, data["thresholds"])
    expected["created"] = data["created"]
    assert data == expected
    assert data["campaigns"]["c"]["posters"] == sum(1 for r in results if r.campaign == "c")
    with open(tmp_path / "report.csv", newline="", encoding="utf-8") as f:
        assert sum(1 for _ in csv.reader(f)) == len(results) + 1


def test_the_streamed_page_is_the_page_of_the_rows_in_memory(tmp_path: Path):
    results = sample_results(tmp_path)
    limits = load_config(environ={}).typed("qa", __import__("ecomctl.qa.thresholds", fromlist=["QAThresholds"])
                                           .QAThresholds)
    rows = report_rows(results, tmp_path)
    whole = template().render(**page_context(rows, results, tmp_path, limits))
    with ReportSpool(tmp_path, results) as spool:
        ctx = stream_context(spool.summary(), spool.tally.campaign_summary(), spool.rows(passed=False),
                             spool.rows(passed=True), tmp_path, limits)
        assert not isinstance(ctx["rows"], list)  # rows (and their thumbnails) are made as the page is written
        streamed = "".join(template().generate(**ctx))
    cut = lambda html: html.split('<div class="meta">', 1)[1].split("</div>", 1)[1]  # past the created time
    assert cut(streamed) == cut(whole) and streamed.count('src="data:image/jpeg;base64,') == 3


def test_a_run_keeps_slim_results_the_failing_checks_keep_their_reasons():
    res = synthetic(4)  # a fail
    kept = slim(res)
    assert kept.status == "fail" and not kept.qa.details and [c.name for c in kept.qa.checks] == ["text.ned"]
    assert kept.qa.reasons == ["line of S4"] and kept.sku == res.sku and kept.where == res.where
    assert slim(synthetic(0)).qa.checks == ()  # a pass keeps no checks


def _peak_while_writing(tmp_path: Path, n: int) -> int:
    """Peak bytes traced while `n` results (each with 8 kB of QA details) go through a spool into the reports."""
    cfg = load_config(None, {"qa.report.max_rows": 50})
    out = tmp_path / f"n{n}"
    tracemalloc.start()
    try:
        with ReportSpool(out, memory=64 << 10) as spool:
            for i in range(n):
                spool.append(synthetic(i, detail_kb=8))
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            write_reports(out, spool, cfg)
            return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_the_posters_of_a_run(tmp_path: Path, monkeypatch):
    """What a run holds per poster is the slim result (~1 kB), not its QA details (8 kB here); and writing
    the reports needs about the same memory for 3,000 posters as for 600 (the writers stream)."""
    monkeypatch.setattr("ecomctl.qa.report.INDENT_ROWS", 0)  # both sizes take the large run's (streamed) path
    tracemalloc.start()
    try:
        with ReportSpool(tmp_path / "run", memory=64 << 10) as spool:
            base = tracemalloc.get_traced_memory()[0]
            for i in range(3000):
                spool.append(synthetic(i, detail_kb=8))
            per_poster = (tracemalloc.get_traced_memory()[0] - base) / 3000
    finally:
        tracemalloc.stop()
    assert per_poster < 2048, per_poster  # holding the results themselves: > 10 kB each
    small, large = _peak_while_writing(tmp_path, 600), _peak_while_writing(tmp_path, 3000)
    assert large < 1.5 * small + (2 << 20), (small, large)  # rows in a list: 5× the rows, 5× the memory


def test_a_disk_that_cannot_take_the_spool_keeps_the_rows_in_memory(tmp_path: Path, monkeypatch):
    """The spool is the main process's own write: a full disk there must not stop the run (the workers'
    writes are what the run's fault handling watches); the rows stay in memory and the reports are whole."""
    import errno
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    results = [synthetic(i) for i in range(200)]
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with ReportSpool(tmp_path, results, memory=4096) as spool:
        assert spool._file is None and len(spool) == 200
        assert list(spool.rows()) == report_rows(results, tmp_path)
        write_reports(tmp_path, spool, load_config(environ={}))
    assert len(json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["items"]) == 200


def test_a_disk_that_fills_while_spooling_keeps_the_rest_in_memory(tmp_path: Path):
    results = [synthetic(i) for i in range(200)]
    with ReportSpool(tmp_path, results[:60], memory=4096) as spool:
        spilled = spool._file_size
        assert spilled > 0

        class Full:  # the spool file from here on: reads work, writes fail (the disk is full)
            def __init__(self, f):
                self.f = f

            def write(self, data):
                self.f.write(bytes(data)[: len(data) // 2])  # a partial write, then the error
                raise OSError(28, "No space left on device")

            def __getattr__(self, name):
                return getattr(self.f, name)

        spool._file = Full(spool._file)
        spool.extend(results[60:])
        assert spool._file_size == spilled  # nothing counted from the failed write
        assert list(spool.rows()) == report_rows(results, tmp_path)
