"""`ecomctl dataset build|stats|validate`: InnoComposer-style corpora from renders or found posters."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ecomctl.cli.common import Bar, build_config, console, err_console, guard
from ecomctl.outcome import counted

sub = typer.Typer(help="Build, inspect and check InnoComposer-style training corpora.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="dataset")


@sub.command()
@guard
def build(
    source: Path = typer.Argument(..., help="An `ecomctl render` output folder or a folder of posters."),
    corpus: Path = typer.Option(..., "--out", "-o", help="Corpus folder (created; resumed when it exists)."),
    kind: str = typer.Option("auto", "--source", help="auto | render | poster"),
    metadata: Path = typer.Option(None, "--metadata", help="CSV for a poster folder: file, sku, group, prompt, subject."),
    size: int = typer.Option(None, "--size", help="Normalised square side (default 800)."),
    workers: int = typer.Option(None, "--workers", "-j", help="Worker processes (default 1)."),
    bench: int = typer.Option(None, "--bench", help="Bench (held-out) samples (default 300, fewer when the corpus is small)."),
    shards: bool = typer.Option(None, "--shards", help="Also write WebDataset tar shards."),
    pair: bool = typer.Option(None, "--pair-siblings", help="Style reference from a sibling of the same SKU group."),
    seed: int = typer.Option(None, "--seed", help="Split seed."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML config file (section `dataset`)."),
    force: bool = typer.Option(False, "--force", help="Rebuild samples that are already finished."),
) -> None:
    """Turn posters into samples: prompt, subject, style, glyph conditions; parquet + image folders."""
    from ecomctl.dataset import build_corpus, settings_from
    from ecomctl.io import usable_dir

    usable_dir(corpus, "--out")
    cfg = build_config(config, {})
    # other sections supply defaults (one OCR thread per worker); the `dataset` section wins over them
    base = {"ocr": {"threads": 1, **cfg.section("ocr")}, "subject": cfg.section("subject"),
            "subject_method": cfg.subject.method, "subject_prompt": cfg.subject.default_prompt}
    settings = settings_from({**base, **cfg.section("dataset")}, size=size, workers=workers, bench_size=bench,
                             shards=shards, pair_siblings=pair, seed=seed,
                             metadata=str(metadata) if metadata else None)
    report = _with_progress(lambda progress: build_corpus(source, corpus, settings, kind, progress, force))
    stats = json.loads((corpus / "stats.json").read_text(encoding="utf-8"))
    splits = ", ".join(f"{k} {v}" for k, v in stats["splits"].items()) or "none"
    drops = ", ".join(f"{k} {v}" for k, v in report.dropped.items()) or "none"
    console.print(f"{counted(report.kept, 'sample')} ({splits}) from {counted(report.items, 'poster')} "
                  f"({report.resumed} unchanged) in {report.seconds:.1f}s; dropped: {drops}; "
                  f"errors: {len(report.errors)}", highlight=False, soft_wrap=True)
    for e in report.errors:
        err_console.print(f"[red]error:[/red] {escape(e['id'])}: {escape(e['error'])}", highlight=False,
                          soft_wrap=True)
    console.print(f"corpus: {corpus}", highlight=False, soft_wrap=True)
    raise typer.Exit(1 if report.errors else 0)


def _with_progress(run):
    with Bar("dataset") as bar:
        return run(lambda done, total: bar.update(done, total))


@sub.command()
@guard
def stats(
    corpus: Path = typer.Argument(..., help="A corpus folder made by `dataset build`."),
    as_json: bool = typer.Option(False, "--json", help="Print stats.json as is."),
) -> None:
    """Counts, drops by reason, language mix, text-length and subject-area histograms."""
    from ecomctl.dataset import corpus_stats

    data = corpus_stats(corpus)
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"corpus {corpus}", show_header=False)
    for key in ("samples", "splits", "skus", "skus_by_split", "sources", "dropped", "errors", "languages",
                "style_from", "paired", "lines_per_sample", "glyphs_per_sample", "roles", "struck_lines",
                "with_logo", "with_dropped_copy", "qa_status", "text_length_hist", "subject_area_hist"):
        if key not in data:  # a corpus built before the key was counted
            continue
        value = data.get(key)
        text = ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        table.add_row(key, escape(text or "none"))
    console.print(table)


@sub.command()
@guard
def validate(corpus: Path = typer.Argument(..., help="A corpus folder made by `dataset build`.")) -> None:
    """Every path exists, image shapes agree, ids unique, no SKU on both sides of the split (exit 1 if not)."""
    from ecomctl.dataset import validate_corpus

    problems = validate_corpus(corpus)
    for p in problems:
        err_console.print(f"[red]error:[/red] {escape(p)}", highlight=False, soft_wrap=True)
    if problems:
        err_console.print(f"[red]corpus {escape(str(corpus))} is broken: {counted(len(problems), 'problem')}[/red]",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"corpus {corpus} ok", highlight=False, soft_wrap=True)
