"""`ecomctl render MANIFEST`: posters + variants + QA report; exit 0 all passed, 1 some failed, 2 cannot run,
3 stopped on a disk fault (full, read-only: see errors.RunFault)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ecomctl.cli.common import (
    COLUMNS_HELP,
    LOGOS_HELP,
    Bar,
    build_config,
    console,
    guard,
    print_notes,
    print_traceback,
)
from ecomctl.outcome import counted
from ecomctl.textsafe import neutralise

if TYPE_CHECKING:  # imported for annotations only: `ecomctl --help` stays light
    from ecomctl.types import ItemResult


def _report(out: Path) -> Path:
    from ecomctl.store import OutputStore

    return OutputStore(out).report_html


def _line(res: ItemResult) -> str:
    name = f"{res.sku}-v{res.variant}" if res.variant else res.sku
    why = res.error or "; ".join((res.qa.reasons if res.qa else [])[:2])
    done = (" (unchanged)" if res.resumed else " (re-rendered: layout changed)" if res.layout_changed
            else " (re-graded)" if res.regraded else "")  # re-judged ones too (the summary line says how many)
    return neutralise(f"{res.status:7} {name}{done}" + (f"  {why}" if why else ""))  # OCR reads: no raw ESC


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def render(
        manifest: Path = typer.Argument(..., help="Manifest of SKUs: CSV/TSV, Excel (.xlsx) or YAML."),
        sheet: str = typer.Option(None, "--sheet", help="Sheet of an Excel workbook to read \\[default: the first]."),
        columns: str = typer.Option(None, "--columns", help=COLUMNS_HELP, metavar="FIELD=COLUMN,…"),
        logos: Path = typer.Option(None, "--logos", help=LOGOS_HELP, metavar="DIR"),
        out: str = typer.Option(None, "--out", "-o", help="Output folder \\[default: run.out = out].", metavar="<path>"),
        backend: str = typer.Option(None, "--backend", "-b", help="Render backend (compose, sdxl-inpaint, …)."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file (layered over defaults)."),
        devices: str = typer.Option(None, "--devices", help="Device(s), e.g. cpu or cuda:0,cuda:1."),
        workers: int = typer.Option(None, "--workers", "-j", help="Worker processes."),
        seed: int = typer.Option(None, "--seed", help="Run seed (per-SKU seeds derive from it)."),
        keep_layers: bool = typer.Option(None, "--keep-layers", help="Also write the clean background layer."),
        force: bool = typer.Option(False, "--force", help="Re-render items that are already finished."),
        replan: bool = typer.Option(False, "--replan", help="Plan each finished poster's layout again with this "
                                    "ecomctl and render it again where the layout differs from the stored one "
                                    "(after an upgrade with a layout fix)."),
        verify: bool = typer.Option(False, "--verify", help="Hash every finished poster to check it, instead of "
                                    "trusting the size, mtime and inode its sidecar recorded."),
        log_json: Path = typer.Option(None, "--log-json", help="Append one JSON line per event (run start, "
                                      "each poster with timings and verdict, run end) to FILE."),
        campaign: str = typer.Option(None, "--campaign", help="Campaign of every row that names none: its SKUs "
                                     "share one reference style (render.campaign)."),
        campaign_ref: Path = typer.Option(None, "--campaign-ref", help="Reference image of --campaign "
                                          "\\[default: the campaign's first scene rendered]."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or per-poster lines; print "
                                   "only failed/error posters and the summary, and only when the run fails."),
    ) -> None:
        """Render posters and variants for every SKU, then QA them and write the report."""
        from ecomctl.engine.runner import run_render

        cfg = build_config(config, {"run.out": out, "render.backend": backend, "render.device": devices,
                                    "run.workers": workers, "run.seed": seed, "run.keep_layers": keep_layers,
                                    "render.campaign": campaign, "input.logos": logos})
        cfg = _with_campaign_ref(cfg, campaign_ref)
        if quiet:
            summary = run_render(manifest, cfg, force=force, log_json=log_json, verify=verify, sheet=sheet,
                                 columns=columns, replan=replan)
            _print_quiet(summary)
        else:
            summary = _run(run_render, manifest, cfg, force, log_json, verify, sheet, columns, replan)
            _print_summary(summary)
        raise typer.Exit(summary.exit_code)


def _with_campaign_ref(cfg, ref: Path | None):
    if ref is None:
        return cfg
    if not cfg.render.campaign:
        from ecomctl.errors import ConfigError

        raise ConfigError("--campaign-ref needs --campaign NAME (the campaign it is the reference of)")
    refs = {**cfg.render.campaigns, cfg.render.campaign: ref}
    return cfg.model_copy(update={"render": cfg.render.model_copy(update={"campaigns": refs})})


def _run(run_render, manifest, cfg, force, log_json, verify, sheet, columns, replan):
    with Bar("render") as bar:  # one row per poster (a SKU that failed before its posters: one row)

        def on_result(res: ItemResult) -> None:
            bar.advance()
            bar.print(_line(res), res.status)
            print_traceback(res.log)

        return run_render(manifest, cfg, on_result=on_result, force=force, log_json=log_json, verify=verify,
                          on_start=lambda n: bar.update(total=n), sheet=sheet, columns=columns, replan=replan)


def _print_quiet(summary) -> None:
    """Cron mails whatever a job prints: print nothing when every poster passed, else the problems."""
    if summary.exit_code == 0:
        return
    for note in summary.notes:
        print(f"warning: {note}", flush=True)
    for res in summary.results:
        if res.status in ("fail", "error"):
            print(_line(res), flush=True)
    print(f"{summary.count('fail')} failed, {counted(summary.count('error'), 'error')} of "
          f"{counted(len(summary.results), 'poster')}; report: {_report(summary.out)}", flush=True)


def _print_summary(summary) -> None:
    from ecomctl.cli.summary import summary_table

    console.print(summary_table(list(summary.results), summary=summary.qa_summary))
    counts = ", ".join(f"{s} {summary.count(s)}" for s in ("pass", "warn", "fail", "error")
                       if summary.count(s))
    kept = [f"{summary.resumed} unchanged since the last run"] if summary.resumed else []
    if summary.regraded:  # a threshold, or a new ecomctl whose grading code differs (a check added, say)
        kept.append(f"{summary.regraded} re-graded (QA settings or checks changed, poster kept)")
    if summary.rejudged:  # of those, only QA limits changed: the stored measurements judged again (qa/rejudge.py)
        kept.append(f"{summary.rejudged} of them re-judged from stored measurements (only limits changed)")
    if summary.replanned:  # --replan: every finished poster's layout planned again; those that differ rendered
        kept.append(f"{summary.replanned} re-planned, {summary.layout_changed} re-rendered (layout changed)")
    counts += "; " + ", ".join(kept) if kept else ""
    console.print(f"{counted(len(summary.results), 'poster')} in {summary.seconds:.1f}s ({counts}); "
                  f"report: {_report(summary.out)}", highlight=False, soft_wrap=True)
    print_notes(summary.notes)
