"""`ecomctl eval IMAGES --expect expected.csv`: Sen.Acc / NED of any poster set against its expected copy."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ecomctl.cli.common import build_config, console, guard
from ecomctl.outcome import counted


def _table(report) -> Table:
    table = Table(title=f"eval: {counted(len(report.images), 'image')}, {counted(len(report.all_lines), 'line')}", title_justify="left")
    for col, just in (("file", "left"), ("mode", "left"), ("lines", "right"), ("Sen.Acc", "right"),
                      ("NED", "right"), ("worst line (expected → read)", "left")):
        table.add_column(col, justify=just, overflow="fold")
    for im in report.images:
        worst = min(im.lines, key=lambda s: s.ned, default=None)
        note = im.error or (f"{worst.expected} → {worst.read}" if worst and not worst.exact else "")
        colour = "green" if im.sen_acc == 1.0 else "yellow" if im.ned >= 0.8 else "red"
        table.add_row(escape(im.file), im.mode, str(len(im.lines)), f"[{colour}]{im.sen_acc:.3f}[/]",
                      f"{im.ned:.4f}", escape(note))
    table.add_section()
    table.add_row("[bold]overall[/]", "", str(len(report.all_lines)), f"[bold]{report.sen_acc:.4f}[/]",
                  f"[bold]{report.ned:.4f}[/]", "")
    return table


def register(app: typer.Typer) -> None:
    @app.command(name="eval")
    @guard
    def eval_(
        images: Path = typer.Argument(..., help="Folder of poster images (ours or another generator's)."),
        expect: Path = typer.Option(..., "--expect", "-e", help="CSV: file, lines (| separated or line1, line2 …), optional boxes."),
        json_out: Path = typer.Option(None, "--json", help="Also write the scores as JSON (schema ecomctl.eval/1)."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file (its ocr: section)."),
        min_ned: float = typer.Option(None, "--min-ned", help="Exit 1 when the overall NED is below this."),
        min_sen_acc: float = typer.Option(None, "--min-sen-acc", help="Exit 1 when the overall Sen.Acc is below this."),
    ) -> None:
        """Score posters against expected copy: per-image and overall Sen.Acc and NED (OCR: ocr.engine).

        Both compare normalised text: NFKC (full/half width), typographic variants folded (quotes, dashes, ¥/￥ …), case-folded, whitespace removed. With boxes each line is read from its crop; without, full-image OCR lines are assigned to the expected lines by best NED.
        """
        from ecomctl.errors import EcomctlError
        from ecomctl.qa.evaluate import evaluate, load_expected
        from ecomctl.text.ocr import get_ocr

        if not images.is_dir():
            raise EcomctlError(f"{images}: no such folder of images")
        if json_out:
            from ecomctl.io import usable_file

            usable_file(json_out, "--json")
        expected = load_expected(expect)
        report = evaluate(images, expected, get_ocr(build_config(config, {}).section("ocr")))
        console.print(_table(report))
        if json_out:
            from ecomctl.store.files import atomic_write_text

            atomic_write_text(json_out, json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
        low = (min_ned is not None and report.ned < min_ned) or (min_sen_acc is not None and report.sen_acc < min_sen_acc)
        raise typer.Exit(1 if low or any(im.error for im in report.images) else 0)
