"""Corpus build: discover source items → process (resumable, process pool) → de-dup → split → write."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecomctl.dataset.corpus import write_samples, write_shards
from ecomctl.dataset.hygiene import duplicates
from ecomctl.dataset.items import SourceItem
from ecomctl.dataset.sample import process_item, record_path
from ecomctl.dataset.settings import DatasetSettings
from ecomctl.dataset.split import assign_split, pair_siblings
from ecomctl.dataset.stats import compute_stats, write_datasheet, write_stats
from ecomctl.errors import ConfigError
from ecomctl.store.files import fault_of

Progress = Callable[[int, int], None]


@dataclass
class BuildReport:
    corpus: Path
    items: int
    kept: int
    resumed: int
    dropped: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def discover(source: Path, kind: str = "auto", metadata: Path | None = None,
             exclude: Path | None = None) -> tuple[str, list[SourceItem]]:
    """('render' | 'poster', items) for a render output folder or a folder of posters."""
    if not source.is_dir():
        raise ConfigError(f"{source}: not a folder")
    if kind == "auto":
        kind = "render" if _is_render_folder(source) else "poster"
    if kind == "render":
        from ecomctl.dataset.from_render import discover_renders

        items = discover_renders(source)
    elif kind == "poster":
        from ecomctl.dataset.from_posters import discover_posters

        items = discover_posters(source, metadata, exclude)
    else:
        raise ConfigError(f"unknown dataset source {kind!r} (known: auto, render, poster)")
    if not items:
        raise ConfigError(f"{source}: no {'rendered posters' if kind == 'render' else 'images'} found")
    dup = [k for k, n in Counter(i.id for i in items).items() if n > 1]
    if dup:
        raise ConfigError(f"{source}: two source files map to sample id {dup[0]!r}; rename one")
    return kind, items


def _is_render_folder(source: Path) -> bool:
    from ecomctl.store import OutputStore

    return OutputStore(source).looks_like_output()


def build_corpus(source: Path, out: Path, s: DatasetSettings, kind: str = "auto",
                 progress: Progress | None = None, force: bool = False) -> BuildReport:
    """Build (or resume) a corpus in `out`; finished samples are skipped unless `force`."""
    start = time.perf_counter()
    kind, items = discover(source, kind, Path(s.metadata) if s.metadata else None, exclude=out)
    out.mkdir(parents=True, exist_ok=True)
    done = {} if force else {i.id: r for i in items if (r := _finished(out, i, s)) is not None}
    todo = [i for i in items if i.id not in done]
    fresh = _run(todo, s, out, progress, len(items), len(done))
    records = [done.get(i.id) or fresh[i.id] for i in items]
    for r, item in zip(records, items):
        r["src"] = os.path.relpath(item.path, source)
    report = finalize(out, records, s, source=str(source), seconds=time.perf_counter() - start)
    report.resumed = len(done)
    return report


def _finished(out: Path, item: SourceItem, s: DatasetSettings) -> dict[str, Any] | None:
    """The stored record when this item was already built with the same input and settings."""
    path = record_path(out, item.id)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = rec.get("fingerprint") == item.fingerprint() and rec.get("settings") == s.fingerprint()
    return rec if same and rec.get("status") in ("ok", "dropped") else None


def _run(items: list[SourceItem], s: DatasetSettings, out: Path, progress: Progress | None,
         total: int, already: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    tick = (lambda: progress(already + len(results), total)) if progress else (lambda: None)
    tick()
    if s.workers <= 1 or len(items) <= 1:
        for item in items:
            results[item.id] = process_item(item, s, out)
            tick()
        return results
    # spawn, not fork: a parent that already ran OCR holds onnxruntime/OpenCV thread pools, and forked
    # children inherit their locks and hang
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=s.workers, initializer=_init_worker, mp_context=ctx) as pool:
        futures = {pool.submit(process_item, item, s, out): item for item in items}
        for fut in as_completed(futures):
            item = futures[fut]
            try:
                results[item.id] = fut.result()
            except Exception as e:
                if fault_of(e) is not None:  # the disk is full or failing: every item after would fail too
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                results[item.id] = {"id": item.id, "sku": item.sku, "group": item.group, "source": item.kind,
                                    "status": "error", "error": f"worker failed: {type(e).__name__}: {e}"}
            tick()
    return results


def _init_worker() -> None:
    # each worker is one core's worth of work; stop OpenCV / BLAS from oversubscribing the machine
    import cv2

    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def finalize(out: Path, records: list[dict[str, Any]], s: DatasetSettings, source: str,
             seconds: float) -> BuildReport:
    """Corpus-level steps over all records: de-dup, split, pairing, parquet, shards, stats, datasheet."""
    dropped = Counter(r["reason"] for r in records if r.get("status") == "dropped")
    errors = [{"id": r["id"], "error": r.get("error", "")} for r in records if r.get("status") == "error"]
    ok = sorted((dict(r) for r in records if r.get("status") == "ok"), key=lambda r: r["id"])
    dup_of = duplicates([r["phash"] for r in ok], s.dedup_distance)
    dropped["duplicate"] += sum(d is not None for d in dup_of)
    rows = [r for r, d in zip(ok, dup_of) if d is None]
    split = assign_split([r["sku"] for r in rows], s.bench_size, s.bench_fraction, s.seed)
    for r in rows:
        r.update(split=split[r["sku"]], style_ref=r["style"], style_ref_id=None)
    if s.pair_siblings:
        pair_siblings(rows)
    write_samples(out, rows)
    if s.shards:
        write_shards(out, rows, s.shard_size)
    dropped = Counter({k: v for k, v in dropped.items() if v})
    stats = compute_stats(rows, dropped, errors, round(seconds, 3))
    stats["dropped_items"] = [{"id": r["id"], "src": r.get("src"), "reason": r["reason"],
                               "detail": r.get("detail", r["reason"])}
                              for r in records if r.get("status") == "dropped"][:200]
    if s.check_sheet > 0 and rows:
        from ecomctl.dataset.check_sheet import write_check_sheet

        stats["check_sheet"] = write_check_sheet(out, rows, s.check_sheet, s.seed).name
    write_stats(out, stats)
    write_datasheet(out, stats, s, source)
    return BuildReport(out, len(records), len(rows), 0, dict(dropped), errors, seconds)
