"""`ecomctl validate MANIFEST`: the same checks render runs up front; exit 0 valid, 2 with every problem."""

from __future__ import annotations

from pathlib import Path

import typer

from ecomctl.cli.common import build_config, console, guard


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def validate(
        manifest: Path = typer.Argument(..., help="CSV or YAML manifest of SKUs."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file."),
    ) -> None:
        """Check a manifest without rendering: every problem as file:row:column: message."""
        from ecomctl.manifest import load_run_manifest

        cfg = build_config(config, {})
        manifest_, _ = load_run_manifest(manifest, cfg)
        posters = sum(r.variants for r in manifest_.rows)
        console.print(f"{manifest}: ok — {len(manifest_.rows)} SKUs, {posters} posters", highlight=False,
                      soft_wrap=True)
