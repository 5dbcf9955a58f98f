"""Run reports from the per-item results: rows and summary shared by every writer, report.json and report.csv."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ecomctl import __version__
from ecomctl.outcome import STATUS_ORDER
from ecomctl.store.files import atomic_write_text
from ecomctl.textsafe import neutralise
from ecomctl.types import ItemResult

SCHEMA = "ecomctl.report/1"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
        "regraded": bool(getattr(r, "regraded", False)),  # poster kept, verdict made again (QA settings changed)
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


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts per status and, per metric: n, mean, min, max and how many checks passed/warned/failed."""
    counts = {s: 0 for s in STATUS_ORDER}
    metrics: dict[str, dict[str, Any]] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        for c in row["checks"]:
            m = metrics.setdefault(c["name"], {"values": [], "pass": 0, "warn": 0, "fail": 0})
            m[c["status"]] += 1
            if c["value"] is not None:
                m["values"].append(float(c["value"]))
    for m in metrics.values():
        vals = m.pop("values")
        m.update(n=len(vals), mean=round(sum(vals) / len(vals), 4) if vals else None,
                 min=min(vals, default=None), max=max(vals, default=None), values=vals)
    kept = {"resumed": sum(bool(r.get("resumed")) for r in rows), "regraded": sum(bool(r.get("regraded")) for r in rows)}
    return {"items": len(rows), "status": counts, **kept, "metrics": dict(sorted(metrics.items()))}


def campaigns(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per campaign: its reference, how many posters, and their style-consistency scores (qa/style.py)."""
    from ecomctl.qa.style import CHECK, MODEL

    out: dict[str, Any] = {}
    for row in rows:
        if row.get("campaign"):
            c = out.setdefault(row["campaign"], {"reference": f"campaigns/{row['campaign']}.png", "posters": 0,
                                                 "scores": []})
            c["posters"] += 1
            if row["metrics"].get(CHECK) is not None:
                c["scores"].append(row["metrics"][CHECK])
    for c in out.values():
        vals = c.pop("scores")
        c.update(style_mean=round(sum(vals) / len(vals), 4) if vals else None, style_min=min(vals, default=None),
                 model=MODEL)
    return dict(sorted(out.items()))


def header(out_dir: Path) -> dict[str, Any]:
    return {"schema": SCHEMA, "generator": f"ecomctl {__version__}",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "out_dir": str(Path(out_dir).resolve())}


def report_data(rows: Sequence[dict[str, Any]], out_dir: Path, limits: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """The report.json document from `report_rows`; `limits` are the thresholds the verdicts used."""
    summary = summarize(rows)
    for m in summary["metrics"].values():
        m.pop("values")
    return {**header(out_dir), "thresholds": limits or {}, "summary": summary, "campaigns": campaigns(rows),
            "items": list(rows)}


def write_json(path: Path, rows: Sequence[dict[str, Any]], out_dir: Path,
               limits: dict[str, Any] | None = None) -> None:
    data = report_data(rows, out_dir, limits)
    indent = 2 if len(rows) <= 2000 else None  # large runs: compact (indentation adds ~40% to the file)
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=indent, allow_nan=False) + "\n")


def safe_cell(value: Any) -> Any:
    """Text cells that a spreadsheet would run as a formula get a leading quote; control characters (an
    OCR read, an older run's sidecar, a file name) become visible escapes; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        value = "'" + value
    return neutralise(value) if isinstance(value, str) else value


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    metric_names = sorted({name for row in rows for name in row["metrics"]})
    head = ["sku", "variant", "status", "image", "sidecar", "where", "seconds", "reasons", "subject_method",
            "subject_fallback", "campaign"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head + metric_names)
    for row in rows:
        cells = [row["sku"], row["variant"], row["status"], row["image"], row["sidecar"], row["where"],
                 row["seconds"], "; ".join(row["reasons"]), row["subject"]["method"], row["subject"]["note"],
                 row["campaign"]]
        cells += [row["metrics"].get(name) for name in metric_names]
        w.writerow(["" if c is None else safe_cell(c) for c in cells])
    atomic_write_text(path, buf.getvalue())
