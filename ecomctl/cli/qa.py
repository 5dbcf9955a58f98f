"""`ecomctl qa OUT`: recompute QA for an existing output folder; exit 0 all passed, 1 some failed, 2 cannot run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from ecomctl.cli.common import console, guard
from ecomctl.errors import ConfigError
from ecomctl.outcome import STATUS_COLOURS, exit_code
from ecomctl.textsafe import neutralise

if TYPE_CHECKING:  # annotations only: the store, YAML and types load when `qa` runs, not for `--help`
    from ecomctl.types import ItemResult


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """`--set qa.subject.iou_warn=0.98` → {"qa.subject.iou_warn": 0.98} (values parsed as YAML scalars)."""
    from ecomctl import yamlio

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. qa.subject.iou_warn=0.98")
        try:
            out[key.strip()] = yamlio.load_text(raw) if raw else raw
        except yamlio.YamlProblem as e:
            raise ConfigError(f"--set {item!r}: {e.message}") from None
    return out


def run_sections(out: Path) -> dict[str, Any]:
    """The qa:/ocr: sections the run that made OUT used (from OUT/run.yaml), so a plain `ecomctl qa OUT`
    judges with the run's thresholds; --config, env and --set layer over them."""
    from ecomctl import yamlio
    from ecomctl.store import OutputStore

    path = OutputStore(out).run_yaml
    try:
        doc = yamlio.load_file(path) if path.is_file() else None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the run's settings: {e}") from None
    except yamlio.YamlProblem as e:
        raise ConfigError(f"{path}:{e}") from None
    cfg = (doc or {}).get("config") if isinstance(doc, dict) else None
    if not isinstance(cfg, dict):
        return {}
    return {k: cfg[k] for k in ("qa", "ocr") if isinstance(cfg.get(k), dict)}


def _line(res: ItemResult) -> str:
    name = f"{res.sku}-v{res.variant}" if res.variant else res.sku
    why = res.error or "; ".join((res.qa.reasons if res.qa else [])[:2])
    why = neutralise(why)  # an OCR read or an older run's sidecar: no raw control characters on the terminal
    return f"[{STATUS_COLOURS[res.status]}]{res.status:7}[/] {escape(name)}" + (f"  {escape(why)}" if why else "")


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def qa(
        out: Path = typer.Argument(..., help="Output folder of an earlier `ecomctl render`."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config (its qa:/ocr: sections) over the run's."),
        sets: list[str] = typer.Option(None, "--set", help="Override a setting, e.g. qa.subject.iou_warn=0.98."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary table."),
    ) -> None:
        """Re-run QA on every poster of OUT (thresholds: the run's run.yaml < --config < env < --set); rewrite sidecars and reports."""
        from ecomctl.cli.summary import summary_table
        from ecomctl.config import load_config
        from ecomctl.engine.recheck import recheck
        from ecomctl.store import OutputStore

        cfg = load_config(config, base=run_sections(out), sets=parse_sets(sets))
        on_result = None if quiet else (lambda r: console.print(_line(r), highlight=False, soft_wrap=True))
        results = recheck(out, cfg, on_result)
        console.print(summary_table(results))
        console.print(f"report: {escape(str(OutputStore(out).report_html))}", highlight=False, soft_wrap=True)
        raise typer.Exit(exit_code(r.status for r in results))
