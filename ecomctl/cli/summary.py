"""Terminal summary of a run's QA: a rich Table built from the report rows (`render` and `qa` print it; the
figures come from qa/report.py, the rendering stays in cli/, the only package that imports rich)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ecomctl.outcome import STATUS_COLOURS as _STYLE
from ecomctl.outcome import counted
from ecomctl.qa.report import label, report_rows, summarize
from ecomctl.types import ItemResult


def summary_table(results: Sequence[ItemResult], max_rows: int = 20,
                  summary: dict[str, Any] | None = None) -> Table:
    """Status counts, the checks that warned or failed (how many, mean/min; the others in one line) and the
    first `max_rows` items that did not pass, with reasons. `summary` (as `summarize` gives it) stands in
    for one computed from `results`: a run passes its own, its results being slim (qa/report.py `slim`)."""
    if summary is None:
        summary = summarize(report_rows(results, Path(".")))
    rows = report_rows([r for r in results if r.status not in ("pass", "skipped")], Path("."))
    counts = " ".join(f"[{_STYLE[s]}]{n} {s}[/]" for s, n in summary["status"].items() if n)
    table = Table(title=f"QA: {counted(summary['items'], 'item')} — {counts or 'nothing'}", title_justify="left")
    table.add_column("item / check", overflow="fold")
    table.add_column("status")
    table.add_column("value", justify="right")
    table.add_column("reasons", overflow="fold")
    flagged = {n: m for n, m in summary["metrics"].items() if m["warn"] or m["fail"]}
    for name, m in flagged.items():
        mean = "–" if m["mean"] is None else f"mean {m['mean']:.3g} · min {m['min']:.3g}"
        tally = f"[green]{m['pass']}[/] / [yellow]{m['warn']}[/] / [red]{m['fail']}[/]"
        table.add_row(f"{name} ({label(name)})", tally, mean, "")
    clean = len(summary["metrics"]) - len(flagged)
    if clean:
        table.add_row(f"[dim]{counted(clean, 'other check')} passed on every poster[/]", "", "", "")
    bad = rows
    if bad:
        table.add_section()
    for r in bad[:max_rows]:
        table.add_row(escape(r["name"]), f"[{_STYLE[r['status']]}]{r['status']}[/]", "", escape("; ".join(r["reasons"])))
    if len(bad) > max_rows:
        table.add_row(f"… {len(bad) - max_rows} more", "", "", "see report.html")
    return table
