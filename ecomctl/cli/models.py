"""`ecomctl models list|check|pull`: what each render backend needs, what is present locally, sizes,
readiness, and downloading exactly the files each backend loads."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ecomctl.cli.common import build_config, console, guard
from ecomctl.outcome import counted


def _say_verdicts(verdicts: dict[str, list[str]]) -> None:
    for n, problems in verdicts.items():
        if not problems:
            console.print("[green]ready[/]  " + escape(n), highlight=False, soft_wrap=True)
        for why in problems:
            console.print(f"[red]missing[/] {escape(n)}: {escape(why)}", highlight=False, soft_wrap=True)


def _gb(n: int | None) -> str:
    return "" if n is None else f"{n / 2**30:.2f}"


PULL_HELP = (
    "Download exactly the files each backend loads, then say whether it is ready.\n\n"
    "Per model: the pipeline's model_index.json and the component folders it loads (configs, tokenizer files, "
    "safetensors weights: the `variant` ones, e.g. fp16, when configured and present; never .bin or single-file "
    "checkpoints); only the LoRA weight file used (lora_weight, or the file diffusers would pick); the "
    "IP-Adapter weight and its image encoder only when style_ip is on. Local folders are left alone.\n\n"
    "Shows each repo's file count and size (--dry-run lists every file) and download progress; an interrupted "
    "pull resumes where it stopped. Files go to the Hugging Face cache ($HF_HOME, default ~/.cache/huggingface), "
    "where `models check` and render find them; --endpoint or $HF_ENDPOINT points at a mirror, HF_TOKEN opens "
    "gated repos. HF_HUB_OFFLINE=1 refuses to download (exit 2). Exit 0 when every backend named is ready."
)


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="Model weights the render backends use: list them, check what is present, pull them.",
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
        names: list[str] = typer.Argument(None, metavar="[BACKEND]...", help="Backend(s) to check \\[default: all]."),
        backend: list[str] = typer.Option(None, "--backend", "-b", help="Backend(s) to check (same as BACKEND)."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of lines."),
    ) -> None:
        """Can each backend run here? Checks the local weights folders against what the backend will load
        (pipeline components and their safetensors weights in the variant in use, the LoRA file, the IP-Adapter
        files), one line per problem; exit 0 all checked are ready, 1 some are not (with how to fix)."""
        from ecomctl.render.diffusion import inventory

        cfg = build_config(config, {})
        names = [*(names or []), *(backend or [])] or inventory.backend_names()
        verdicts = {n: inventory.check(n, cfg.backends.get(n)) for n in names}
        if as_json:
            print(json.dumps({n: {"ready": not p, "reason": p[0] if p else None, "problems": p}
                              for n, p in verdicts.items()}, indent=2))
        else:
            _say_verdicts(verdicts)
        raise typer.Exit(0 if not any(verdicts.values()) else 1)

    @models.command("pull", help=PULL_HELP)
    @guard
    def pull(
        backend: list[str] = typer.Argument(..., metavar="BACKEND|all", help="Backend(s) to fetch, or all."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file (repo ids, variant, LoRA "
                                    "file, style_ip live in backends.*)."),
        endpoint: str = typer.Option(None, "--endpoint", help="Hub endpoint or mirror URL \\[default: "
                                     "$HF_ENDPOINT, else https://huggingface.co]."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List the files and sizes; download nothing."),
    ) -> None:
        from ecomctl.render.diffusion import inventory
        from ecomctl.render.diffusion import pull as hub_pull

        cfg = build_config(config, {})
        names = inventory.backend_names() if backend == ["all"] else backend
        hub = hub_pull.Hub(endpoint)
        plans = []
        for name in names:
            obj = inventory.instance(name, cfg.backends.get(name))
            if hasattr(obj, "needs"):
                plans += hub_pull.plan(obj, hub)
        for p in plans:
            where = "local folder, nothing to pull" if p.local else f"{counted(len(p.files), 'file')}, {p.total_bytes / 1e9:.2f} GB"
            console.print(f"{escape(p.backend)} {escape(p.key)}: {escape(p.repo)} — {where}", highlight=False)
            if dry_run:
                for f in p.files:
                    console.print(f"    {escape(f)}  {(p.sizes.get(f) or 0) / 1e6:.1f} MB", highlight=False)
        if dry_run:
            return
        hub_pull.fetch(plans, hub)
        verdicts = {n: inventory.check(n, cfg.backends.get(n)) for n in names}
        _say_verdicts(verdicts)
        raise typer.Exit(0 if not any(verdicts.values()) else 1)

