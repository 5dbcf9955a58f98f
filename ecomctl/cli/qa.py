"""`ecomctl qa OUT`: recompute QA for an existing output folder; exit 0 all passed, 1 some failed, 2 cannot run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.markup import escape

from ecomctl.cli.common import build_config, console, guard
from ecomctl.errors import ConfigError
from ecomctl.types import ItemResult

_COLOUR = {"pass": "green", "warn": "yellow", "fail": "red", "error": "red", "skipped": "dim"}


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """`--set qa.subject.iou_warn=0.98` → {"qa.subject.iou_warn": 0.98} (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. qa.subject.iou_warn=0.98")
        out[key.strip()] = yaml.safe_load(raw) if raw else raw
    return out


def exit_code(results: list[ItemResult]) -> int:
    return 1 if any(r.status in ("fail", "error") for r in results) else 0


def _line(res: ItemResult) -> str:
    name = f"{res.sku}-v{res.variant}" if res.variant else res.sku
    why = res.error or "; ".join((res.qa.reasons if res.qa else [])[:2])
    return f"[{_COLOUR[res.status]}]{res.status:7}[/] {escape(name)}" + (f"  {escape(why)}" if why else "")


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def qa(
        out: Path = typer.Argument(..., help="Output folder of an earlier `ecomctl render`."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file (its qa:/ocr: sections)."),
        sets: list[str] = typer.Option(None, "--set", help="Override a setting, e.g. qa.subject.iou_warn=0.98."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary table."),
    ) -> None:
        """Re-run QA on every poster of OUT with the current thresholds; rewrite sidecars and reports."""
        from ecomctl import qa as qa_lib
        from ecomctl.qa.recheck import recheck

        cfg = build_config(config, parse_sets(sets))
        on_result = None if quiet else (lambda r: console.print(_line(r), highlight=False, soft_wrap=True))
        results = recheck(out, cfg, on_result)
        console.print(qa_lib.summary_table(results))
        console.print(f"report: {escape(str(out / 'report.html'))}", highlight=False, soft_wrap=True)
        raise typer.Exit(exit_code(results))
