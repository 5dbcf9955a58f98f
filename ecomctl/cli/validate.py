"""`ecomctl validate MANIFEST`: the same checks render runs up front; exit 0 valid, 2 with every problem."""

from __future__ import annotations

from pathlib import Path

import typer

from ecomctl.cli.common import COLUMNS_HELP, LOGOS_HELP, build_config, console, guard, print_notes
from ecomctl.outcome import counted


def register(app: typer.Typer) -> None:
    @app.command()
    @guard
    def validate(
        manifest: Path = typer.Argument(..., help="Manifest of SKUs: CSV/TSV (UTF-8, UTF-16 with BOM, GBK/GB18030 or "
                                        "Windows-1252; "
                                        "comma, semicolon or tab), an Excel workbook (.xlsx) or YAML."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file."),
        sheet: str = typer.Option(None, "--sheet", help="Sheet of an Excel workbook to read \\[default: the first]."),
        columns: str = typer.Option(None, "--columns", help=COLUMNS_HELP, metavar="FIELD=COLUMN,…"),
        logos: Path = typer.Option(None, "--logos", help=LOGOS_HELP, metavar="DIR"),
        check_urls: bool = typer.Option(False, "--check-urls", help="Ask each photo URL's host whether it is "
                                        "there (HEAD requests, input.url_* timeouts); nothing is downloaded."),
    ) -> None:
        """Check a manifest without rendering: every problem as file:row:column: message (in an Excel
        workbook: sheet row and column letter, e.g. catalog.xlsx:3:D). Says what the file was read as, and
        the mapping used for a shop export (Shopify product export, Google Merchant feed) or --columns.

        \b
        Examples:
          ecomctl validate catalog.xlsx --sheet Spring
          ecomctl validate products_export.csv   # Shopify product export
          ecomctl validate feed.tsv              # Merchant feed: 299.00 CNY is drawn as ¥299
          ecomctl validate items.csv --columns sku=ItemID,title=Name,image=Photo"""
        from ecomctl.manifest import load_run_manifest

        cfg = build_config(config, {"input.logos": logos})
        manifest_, _ = load_run_manifest(manifest, cfg, sheet=sheet, columns=columns)
        posters = sum(r.variants for r in manifest_.rows)
        console.print(f"{manifest}: ok — {counted(len(manifest_.rows), 'SKU')}, {counted(posters, 'poster')}",
                      highlight=False,
                      soft_wrap=True)
        console.print(f"read as {manifest_.source}", highlight=False, soft_wrap=True)
        if manifest_.mapping:
            console.print(manifest_.mapping, highlight=False, soft_wrap=True)
        print_notes(manifest_.notes)
        urls = len({r.url for r in manifest_.rows if r.url})
        if urls and check_urls:
            from ecomctl.errors import ManifestError
            from ecomctl.photos import check_urls as ask

            problems = ask(list(manifest_.rows), cfg.input)
            if problems:
                raise ManifestError(problems)
            console.print(f"{counted(urls, 'photo URL')} answered (HEAD)", highlight=False, soft_wrap=True)
        elif urls:
            console.print(f"{counted(urls, 'photo URL')} checked as URLs only (render and extract download them; "
                          "--check-urls asks their hosts)", highlight=False, soft_wrap=True)
