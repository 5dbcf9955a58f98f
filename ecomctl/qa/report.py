"""Run reports from the per-item results: rows and summary shared by every writer (spooled as a run goes, so
memory does not grow with the run), report.json and report.csv."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import sys
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from ecomctl import __version__, source_digest
from ecomctl.outcome import STATUS_ORDER
from ecomctl.qa.registry import spec
from ecomctl.store import campaign_reference_name
from ecomctl.store.files import atomic_write_text, atomic_writer
from ecomctl.textsafe import neutralise
from ecomctl.types import ItemResult, QAResult

SCHEMA = "ecomctl.report/1"
SPOOL_MEMORY = 2 << 20  # report rows kept in memory before they go to a temporary file in OUT/.cache
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def label(name: str) -> str:
    """A check's name in words (report.html, the terminal summary): its `label` in the check table
    (qa/registry.py); its name for a check the table does not declare."""
    try:
        return spec(name).label
    except KeyError:
        return name


def _rel(path: Path | None, base: str) -> str | None:
    """`path` relative to `base` (an absolute, resolved folder); plain string maths, no file-system calls
    per item: a nightly run has 100k of them."""
    if path is None:
        return None
    try:
        return Path(os.path.relpath(os.path.abspath(path), base)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()


def item_row(r: ItemResult, base: str) -> dict[str, Any]:
    """One item as plain JSON-able data; paths relative to the output folder `base`."""
    qa = r.qa
    return {
        "sku": r.sku, "variant": r.variant, "name": r.sku if r.variant is None else f"{r.sku}-v{r.variant}",
        "status": r.status, "image": _rel(r.image, base), "sidecar": _rel(r.sidecar, base),
        "where": r.where, "seconds": round(r.seconds, 3), "error": r.error,
        "resumed": bool(getattr(r, "resumed", False)),  # verdict kept from an earlier run (inputs unchanged)
        "regraded": bool(getattr(r, "regraded", False)),  # poster kept, verdict made again (QA settings or checks changed)
        **({"replanned": True, "layout_changed": bool(r.layout_changed)}  # --replan runs only: layout planned
           if getattr(r, "replanned", False) else {}),                  # again; changed → rendered again
        "subject": {"method": r.subject_method, "note": r.subject_note},  # which extractor, why a fallback
        "campaign": r.campaign,
        "reasons": ([r.error] if r.error else []) + (qa.reasons if qa else []),
        "metrics": qa.metrics if qa else {},
        "checks": [{"name": c.name, "value": c.value, "status": c.status, "reason": c.reason}
                   for c in qa.checks] if qa else [],
        "text_lines": _text_lines(qa.details if qa else {}),
    }


def _text_lines(details: Any) -> list[dict[str, Any]]:
    """Per typeset line: what was expected and what OCR read (from the QA details)."""
    lines = (details.get("text") or {}).get("lines", []) if isinstance(details, dict) else []
    keys = ("label", "text", "read", "ned", "exact")
    return [{k: d.get(k) for k in keys} for d in lines if isinstance(d, dict)]


def report_rows(results: Sequence[ItemResult], out_dir: Path) -> list[dict[str, Any]]:
    """Rows with failures first (error, fail, warn, pass, skipped), then by SKU and variant."""
    base = str(Path(out_dir).resolve())
    rows = [item_row(r, base) for r in results]
    return sorted(rows, key=lambda d: (STATUS_ORDER.get(d["status"], 9), d["sku"], d["variant"] or 0))


class Tally:
    """Running totals over report rows, one row at a time: counts per status; per metric how many checks
    passed/warned/failed and its values (8 bytes each); per campaign its posters and style scores."""

    def __init__(self) -> None:
        from ecomctl.qa.style import CHECK

        self.style_check = CHECK
        self.items = self.resumed = self.regraded = self.replanned = self.layout_changed = 0
        self.status = {s: 0 for s in STATUS_ORDER}
        self.metrics: dict[str, dict[str, Any]] = {}
        self.metric_names: set[str] = set()
        self.campaigns: dict[str, dict[str, Any]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.items += 1
        self.status[row["status"]] = self.status.get(row["status"], 0) + 1
        self.resumed += bool(row.get("resumed"))
        self.regraded += bool(row.get("regraded"))
        self.replanned += bool(row.get("replanned"))
        self.layout_changed += bool(row.get("layout_changed"))
        for c in row["checks"]:
            m = self.metrics.get(c["name"])
            if m is None:
                m = self.metrics[c["name"]] = {"values": array("d"), "pass": 0, "warn": 0, "fail": 0}
            m[c["status"]] += 1
            if c["value"] is not None:
                m["values"].append(float(c["value"]))
        self.metric_names.update(row["metrics"])
        if row.get("campaign"):
            name = row["campaign"]
            camp = self.campaigns.setdefault(name, {"reference": campaign_reference_name(name), "posters": 0,
                                                    "scores": array("d")})
            camp["posters"] += 1
            if row["metrics"].get(self.style_check) is not None:
                camp["scores"].append(row["metrics"][self.style_check])

    def summary(self) -> dict[str, Any]:
        """Counts per status, of verdicts kept (resumed) and re-made (regraded) and, per metric: n, mean,
        min, max, how many checks passed/warned/failed, and its `values` (for the histograms; compact)."""
        metrics = {}
        for name, m in sorted(self.metrics.items()):
            vals = m["values"]
            metrics[name] = {"pass": m["pass"], "warn": m["warn"], "fail": m["fail"], "n": len(vals),
                             "mean": round(sum(vals) / len(vals), 4) if vals else None,
                             "min": min(vals, default=None), "max": max(vals, default=None), "values": vals}
        return {"items": self.items, "status": dict(self.status), "resumed": self.resumed,
                "regraded": self.regraded, "metrics": metrics} | self._replan()

    def _replan(self) -> dict[str, int]:
        """--replan: posters re-planned and, of those, re-rendered (layout changed); absent on other nights."""
        return {"replanned": self.replanned, "layout_changed": self.layout_changed} if self.replanned else {}

    def campaign_summary(self) -> dict[str, Any]:
        from ecomctl.qa.style import MODEL

        out = {}
        for name, c in sorted(self.campaigns.items()):
            vals = c["scores"]
            out[name] = {"reference": c["reference"], "posters": c["posters"],
                         "style_mean": round(sum(vals) / len(vals), 4) if vals else None,
                         "style_min": min(vals, default=None), "model": MODEL}
        return out


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts per status and, per metric: n, mean, min, max and how many checks passed/warned/failed."""
    tally = Tally()
    for row in rows:
        tally.add(row)
    return tally.summary()


def campaigns(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Per campaign: its reference, how many posters, and their style-consistency scores (qa/style.py)."""
    tally = Tally()
    for row in rows:
        tally.add(row)
    return tally.campaign_summary()


def slim(res: ItemResult) -> ItemResult:
    """What a run keeps of a poster once its report row is spooled: everything but the QA details and the
    checks that passed (the failing ones keep their reasons for the terminal)."""
    qa = res.qa
    if qa is not None and (qa.details or any(c.status == "pass" for c in qa.checks)):
        qa = QAResult(qa.status, tuple(c for c in qa.checks if c.status != "pass"))
    return replace(res, qa=qa)


class ReportSpool(list):
    """A run's results, as the reports need them, without holding them. `append` turns each result into its
    report row (`item_row`), encoded once as a JSON line and kept in memory up to `memory` bytes, then in
    an unnamed temporary file in OUT/.cache (gone however the run ends); the list itself keeps a `slim`
    copy of each result (what the exit code, the terminal summary and the run log's counts need), and a
    `Tally` keeps the summary. The writers stream the rows back in report order, so a 100,000-poster night
    never holds its rows, its QA details or its thumbnails at once. Results are added with `append` or
    `extend` only. A disk that cannot take the spool leaves the rows in memory (the run goes on)."""

    def __init__(self, out_dir: Path, results: Iterable[ItemResult] = (), memory: int = SPOOL_MEMORY):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.base = str(self.out_dir.resolve())
        self.tally = Tally()
        self._memory = memory
        self._buf = io.BytesIO()  # bytes [self._file_size, self._size) of the spool
        self._file: Any = None  # bytes [0, self._file_size), once spilled
        self._file_size = self._size = 0
        self._index: list[tuple[int, str, int, int, int]] = []  # (status rank, sku, variant, offset, length)
        self._ordered = True
        self._content = 0  # sum of the rows' hashes: the same rows in any order give the same sum
        self.only_resumed = True  # every result so far was resumed unchanged (nothing rendered or re-graded)
        self.extend(results)

    def append(self, res: ItemResult) -> None:  # type: ignore[override]
        row = item_row(res, self.base)
        try:
            line = json.dumps(row, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except ValueError:  # a NaN or infinite figure: null in the report (JSON has no NaN)
            line = json.dumps(_finite(row), ensure_ascii=False, allow_nan=False).encode("utf-8")
        rank = STATUS_ORDER.get(row["status"], 9)
        self._content = (self._content + int.from_bytes(hashlib.blake2b(line, digest_size=16).digest())) % _MOD
        self.only_resumed = self.only_resumed and res.resumed
        self._index.append((rank, res.sku, res.variant or 0, self._size, len(line)))
        self._ordered = False
        self._store(line)
        self.tally.add(row)
        super().append(slim(res))

    def extend(self, results: Iterable[ItemResult]) -> None:  # type: ignore[override]
        for res in results:
            self.append(res)

    def content_key(self, settings: dict[str, Any]) -> str:
        """What the three reports are made of: every row (its status, figures, reasons, paths, whether it
        was unchanged or re-graded), the `settings` they are written with, the report code and the folder.
        Equal keys → the reports would be the same, bar their `created` time (`write_reports` then keeps
        them)."""
        material = {"rows": f"{self._content:032x}", "n": len(self._index), "settings": settings,
                    "code": source_digest(_REPORT_CODE), "version": __version__, "out": self.base}
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()

    def _store(self, line: bytes) -> None:
        self._buf.write(line)
        self._size += len(line)
        if self._buf.tell() > self._memory:
            self._spill()

    def _spill(self) -> None:
        from ecomctl.store import OutputStore

        try:
            if self._file is None:
                folder = OutputStore(self.out_dir).report_spool
                folder.mkdir(parents=True, exist_ok=True)
                self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (open until close())
            self._file.seek(self._file_size)
            self._file.write(self._buf.getbuffer())
            self._file.flush()
        except OSError:  # disk full, read-only, gone: keep the rows in memory from here on
            self._memory = sys.maxsize
            return
        self._file_size = self._size
        self._buf = io.BytesIO()

    def _read(self, offset: int, length: int) -> bytes:
        if offset >= self._file_size:
            start = offset - self._file_size
            return bytes(self._buf.getbuffer()[start:start + length])
        self._file.seek(offset)
        return self._file.read(length)

    def _entries(self, passed: bool | None = None) -> Iterator[tuple[int, str, int, int, int]]:
        if not self._ordered:
            self._index.sort()
            self._ordered = True
        pass_rank = STATUS_ORDER["pass"]
        for entry in self._index:
            if passed is None or (entry[0] == pass_rank) == passed:
                yield entry

    def lines(self) -> Iterator[bytes]:
        """Each row's JSON (one line, no newline), in report order."""
        for *_, offset, length in self._entries():
            yield self._read(offset, length)

    def rows(self, passed: bool | None = None) -> Iterator[dict[str, Any]]:
        """The rows in report order: failures first (error, fail, warn, pass, skipped), then by SKU and
        variant; `passed` True/False: only the passing rows / only the others."""
        for *_, offset, length in self._entries(passed):
            yield json.loads(self._read(offset, length))

    def summary(self) -> dict[str, Any]:
        return self.tally.summary()

    def report_summary(self) -> dict[str, Any]:
        """The summary as report.json has it (no metric values): for the terminal's summary table."""
        summary = self.summary()
        for m in summary["metrics"].values():
            m.pop("values")
        return summary

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buf = io.BytesIO()
        self._index.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_MOD = 1 << 128
# the report writers' own code (with the ecomctl version): a new report layout rewrites the reports
_REPORT_CODE = ("qa/report.py", "qa/report_html.py", "qa/templates/report.html.j2")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def header(out_dir: Path) -> dict[str, Any]:
    return {"schema": SCHEMA, "generator": f"ecomctl {__version__}",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "out_dir": str(Path(out_dir).resolve())}


def report_data(rows: Sequence[dict[str, Any]], out_dir: Path, limits: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """The report.json document from `report_rows`; `limits` are the thresholds the verdicts used."""
    summary = summarize(rows)
    for m in summary["metrics"].values():
        m.pop("values")
    return {**header(out_dir), "thresholds": limits or {}, "summary": summary, "campaigns": campaigns(rows),
            "items": list(rows)}


INDENT_ROWS = 2000  # up to this many items report.json is indented; beyond, compact (indentation adds ~40%)


def write_json(path: Path, spool: ReportSpool, limits: dict[str, Any] | None = None) -> None:
    """report.json: the document `report_data` gives; a large run's is streamed from the spool row by row."""
    summary = spool.report_summary()
    head = {**header(spool.out_dir), "thresholds": limits or {}, "summary": summary,
            "campaigns": spool.tally.campaign_summary()}
    if len(spool) <= INDENT_ROWS:
        data = {**head, "items": list(spool.rows())}
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
        return
    opening = json.dumps(head, ensure_ascii=False, allow_nan=False)[:-1] + ', "items": ['
    with atomic_writer(path) as f:
        f.write(opening.encode("utf-8"))
        for i, line in enumerate(spool.lines()):
            f.write(b", " + line if i else line)
        f.write(b"]}\n")


def safe_cell(value: Any) -> Any:
    """Text cells that a spreadsheet would run as a formula get a leading quote; control characters (an
    OCR read, an older run's sidecar, a file name) become visible escapes; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        value = "'" + value
    return neutralise(value) if isinstance(value, str) else value


def write_csv(path: Path, spool: ReportSpool) -> None:
    metric_names = sorted(spool.tally.metric_names)
    head = ["sku", "variant", "status", "image", "sidecar", "where", "seconds", "reasons", "subject_method",
            "subject_fallback", "campaign"]
    with atomic_writer(path) as f:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="", write_through=False)
        w = csv.writer(text, lineterminator="\n")
        w.writerow(head + metric_names)
        for row in spool.rows():
            cells = [row["sku"], row["variant"], row["status"], row["image"], row["sidecar"], row["where"],
                     row["seconds"], "; ".join(row["reasons"]), row["subject"]["method"],
                     row["subject"]["note"], row["campaign"]]
            cells += [row["metrics"].get(name) for name in metric_names]
            w.writerow(["" if c is None else safe_cell(c) for c in cells])
        text.flush()
        text.detach()  # the atomic writer closes the file
