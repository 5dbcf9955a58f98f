"""`ecomctl extract MANIFEST --out DIR`: cutouts, masks, overlays and a contact sheet; exit 0 / 1 some failed / 2."""

from __future__ import annotations

from pathlib import Path

import typer

from ecomctl.cli.common import COLUMNS_HELP, Bar, build_config, console, guard
from ecomctl.outcome import counted


def _line(res) -> str:
    if res.status != "ok":
        return f"error   {res.sku}  {res.error}"
    why = f"  (fallback: {res.note})" if res.note and res.method != "alpha" else ""
    return f"ok      {res.sku}  {res.method}{why}"


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def extract(
        manifest: Path = typer.Argument(..., help="Manifest of SKUs: CSV/TSV, Excel (.xlsx) or YAML."),
        dest: Path = typer.Option(..., "--out", "-o", help="Output folder for cutouts, masks and previews."),
        method: str = typer.Option(None, "--method", "-m",
                                   help="auto | alpha | grounded-sam | saliency | classical (default: config subject.method)."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file (layered over defaults)."),
        sheet: str = typer.Option(None, "--sheet", help="Sheet of an Excel workbook to read \\[default: the first]."),
        columns: str = typer.Option(None, "--columns", help=COLUMNS_HELP, metavar="FIELD=COLUMN,…"),
    ) -> None:
        """Extract every SKU's product: RGBA cutout, mask, overlay preview, plus one contact sheet. Reads the
        manifests render reads (Excel, shop exports, --columns); photos by URL are downloaded into the --out
        folder's photo cache (DIR/.cache/photos/, asked again with their ETag the next time)."""
        from ecomctl.io import usable_dir
        from ecomctl.manifest import load_manifest
        from ecomctl.subject.catalog import SHEET, extract_catalog

        cfg = build_config(config, {"subject.method": method})
        rows = list(load_manifest(manifest, cfg.render.size, cfg.render.variants, sheet=sheet, columns=columns,
                                  url_hosts=cfg.input.url_hosts).rows)
        usable_dir(dest, "--out")
        summary = _run(extract_catalog, rows, dest, cfg, len(rows))
        console.print(f"{counted(len(summary.results), 'SKU')} in {summary.seconds:.1f}s "
                      f"({len(summary.results) - summary.failed} ok, {summary.failed} failed); "
                      f"contact sheet: {dest / SHEET}", highlight=False, soft_wrap=True)
        raise typer.Exit(summary.exit_code)


def _run(extract_catalog, rows, dest, cfg, total):
    with Bar("extract", total) as bar:

        def on_result(res) -> None:
            bar.advance()
            bar.print(_line(res), res.status)

        return extract_catalog(rows, dest, cfg, on_result=on_result)
