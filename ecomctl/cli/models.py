"""`ecomctl models list|check`: what each render backend needs, what is present locally, sizes, readiness."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ecomctl.cli.common import build_config, console, guard


def _gb(n: int | None) -> str:
    return "" if n is None else f"{n / 2**30:.2f}"


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="Model weights the render backends use: list them, check what is present.",
                         no_args_is_help=True)
    app.add_typer(models, name="models")

    @models.command("list")
    @guard
    def list_(
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file (repo ids live in backends.*)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
        sizes: bool = typer.Option(True, "--sizes/--no-sizes", help="Measure local folders on disk."),
    ) -> None:
        """Every model of every backend: settings key, role, repo id or folder, size, present locally."""
        from ecomctl.render.diffusion import inventory

        cfg = build_config(config, {})
        rows = [s for name in inventory.backend_names()
                for s in inventory.statuses(name, cfg.backends.get(name), sizes)]
        if as_json:
            print(json.dumps([r.as_dict() for r in rows], indent=2))
            return
        table = Table(box=None)
        for col in ("backend", "key", "repo / folder", "~GB", "local GB", "present"):
            table.add_column(col, no_wrap=True, min_width=len(col))
        table.add_column("role", overflow="fold")  # the column that gives way on narrow terminals
        for r in rows:
            mark = "[green]yes[/]" if r.present else ("[red]no[/]" if r.required and r.used else "[yellow]no[/]")
            table.add_row(r.backend, r.key, escape(r.repo), f"{r.approx_gb:g}", _gb(r.local_bytes), mark,
                          escape(r.role))
        console.print(table)

    @models.command("check")
    @guard
    def check(
        backend: list[str] = typer.Option(None, "--backend", "-b", help="Backend(s) to check [default: all]."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of lines."),
    ) -> None:
        """Can each backend run here? exit 0 all checked are ready, 1 some are not (with how to fix)."""
        from ecomctl.render.diffusion import inventory

        cfg = build_config(config, {})
        names = backend or inventory.backend_names()
        verdicts = {n: inventory.readiness(n, cfg.backends.get(n)) for n in names}
        if as_json:
            print(json.dumps({n: {"ready": why is None, "reason": why} for n, why in verdicts.items()}, indent=2))
        else:
            for n, why in verdicts.items():
                line = "[green]ready[/]  " + escape(n) if why is None else f"[red]missing[/] {escape(n)}: {escape(why)}"
                console.print(line, highlight=False, soft_wrap=True)
        raise typer.Exit(0 if all(w is None for w in verdicts.values()) else 1)
