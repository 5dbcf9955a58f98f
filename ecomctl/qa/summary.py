"""Terminal summary of a run's QA: a rich Table built from the report rows (the CLI prints it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ecomctl.outcome import STATUS_COLOURS as _STYLE
from ecomctl.qa.report import report_rows, summarize
from ecomctl.types import ItemResult


def summary_table(results: Sequence[ItemResult], max_rows: int = 20) -> Table:
    """Status counts, per-metric mean/min and the first `max_rows` items that did not pass, with reasons."""
    rows = report_rows(results, Path("."))
    summary = summarize(rows)
    counts = " ".join(f"[{_STYLE[s]}]{n} {s}[/]" for s, n in summary["status"].items() if n)
    table = Table(title=f"QA: {summary['items']} items — {counts or 'nothing'}", title_justify="left")
    table.add_column("item / metric", overflow="fold")
    table.add_column("status")
    table.add_column("value", justify="right")
    table.add_column("reasons", overflow="fold")
    for name, m in summary["metrics"].items():
        mean = "–" if m["mean"] is None else f"mean {m['mean']:.3g} · min {m['min']:.3g}"
        tally = f"[green]{m['pass']}[/] / [yellow]{m['warn']}[/] / [red]{m['fail']}[/]"
        table.add_row(name, tally, mean, "")
    bad = [r for r in rows if r["status"] not in ("pass", "skipped")]
    if bad:
        table.add_section()
    for r in bad[:max_rows]:
        table.add_row(escape(r["name"]), f"[{_STYLE[r['status']]}]{r['status']}[/]", "", escape("; ".join(r["reasons"])))
    if len(bad) > max_rows:
        table.add_row(f"… {len(bad) - max_rows} more", "", "", "see report.html")
    return table
