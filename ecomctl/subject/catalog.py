"""`ecomctl extract` library side: manifest → per-SKU cutout, mask, overlay + one contact sheet for the catalog."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from ecomctl.config import Config
from ecomctl.errors import ExtractionError, InputImageError
from ecomctl.io import open_image
from ecomctl.store.files import atomic_save_image, atomic_write_json
from ecomctl.subject import check_settings, extract_subjects, usable_extractor
from ecomctl.subject.preview import SheetEntry, overlay, sheet_from_tiles, tile
from ecomctl.types import SkuRow, Subject

SHEET = "contact_sheet.png"
SUMMARY = "extract.json"


@dataclass(frozen=True)
class ExtractResult:
    """One SKU's extraction, a row of OUT/extract.json."""

    sku: str
    status: Literal["ok", "error"]
    method: str | None = None
    note: str | None = None  # why the auto chain fell back, if it did
    confidence: float | None = None  # how far the mask can be trusted (0..1)
    confidence_why: str | None = None
    error: str | None = None
    bbox: list[int] | None = None
    files: dict[str, str] = field(default_factory=dict)  # relative to OUT
    seconds: float = 0.0
    where: str = ""


@dataclass(frozen=True)
class ExtractSummary:
    out: Path
    results: tuple[ExtractResult, ...]
    seconds: float

    @property
    def failed(self) -> int:
        return sum(r.status != "ok" for r in self.results)

    @property
    def exit_code(self) -> int:
        from ecomctl.outcome import exit_code

        return exit_code(r.status for r in self.results)


def _batches(rows: list[SkuRow], size: int) -> Iterator[list[SkuRow]]:
    for i in range(0, len(rows), max(1, size)):
        yield rows[i:i + size]


def _fetch(rows: list[SkuRow], dest: Path, cfg: Config) -> tuple[list[SkuRow], dict[str, str]]:
    """Photos by URL downloaded into `dest`'s photo cache (`DIR/.cache/photos/`, laid out and kept as a
    render's OUT keeps it: the next extract into the same folder asks with If-None-Match / If-Modified-Since,
    and so does a render whose OUT is that folder). Returns the rows, URL rows bound to their cached file, and
    sku → why its photo could not be fetched (the URL and the status or timeout, as render says it)."""
    if not any(r.url for r in rows):
        return rows, {}
    from ecomctl.photos import fetch_rows
    from ecomctl.store import OutputStore

    ready, failed = fetch_rows(rows, OutputStore(dest), cfg.input)
    bound = {r.sku: r for r in ready}
    return [bound.get(r.sku, r) for r in rows], {f.sku: f.error or "" for f in failed}


def _open(row: SkuRow, failed: dict[str, str]) -> Image.Image | ExtractionError:
    if row.sku in failed:  # a photo by URL that could not be fetched
        return ExtractionError(f"{row.where}: {failed[row.sku]}")
    try:
        return open_image(row.image)  # upright by EXIF, like render
    except InputImageError as e:
        return ExtractionError(f"{row.where}: {e}")


def _write(row: SkuRow, subject: Subject, dest: Path, seconds: float) -> ExtractResult:
    folder = dest / row.sku
    files = {"mask": f"{row.sku}/{row.sku}.mask.png", "cutout": f"{row.sku}/{row.sku}.cutout.png",
             "overlay": f"{row.sku}/{row.sku}.overlay.jpg"}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_save_image(dest / files["mask"], Image.fromarray(subject.mask, "L"))
    atomic_save_image(dest / files["cutout"], subject.cutout())
    atomic_save_image(dest / files["overlay"], overlay(subject), quality=90)
    return ExtractResult(row.sku, "ok", subject.method, subject.note, subject.confidence, subject.confidence_why, bbox=subject.bbox.as_list(), files=files,
                         seconds=seconds, where=row.where)


def _extract_batch(rows: list[SkuRow], method: str, settings: dict[str, Any], default_prompt: str,
                   dest: Path, failed: dict[str, str]) -> Iterator[tuple[ExtractResult, Subject | None]]:
    t0 = time.perf_counter()
    opened = [_open(r, failed) for r in rows]
    ok = [i for i, im in enumerate(opened) if isinstance(im, Image.Image)]
    subjects = extract_subjects([opened[i] for i in ok], [rows[i].subject or default_prompt for i in ok],
                                method, settings)
    per_item = (time.perf_counter() - t0) / max(1, len(rows))
    found = dict(zip(ok, subjects))
    for i, row in enumerate(rows):
        got = found.get(i, opened[i])
        if isinstance(got, Subject):
            yield _write(row, got, dest, per_item), got
        else:
            yield ExtractResult(row.sku, "error", error=str(got), seconds=per_item, where=row.where), None


def extract_catalog(
    rows: list[SkuRow], dest: Path, cfg: Config, method: str | None = None,
    on_result: Callable[[ExtractResult], None] | None = None,
) -> ExtractSummary:
    """Extract every row's subject into `dest`; one item's failure never stops the batch. Photos by URL are
    downloaded first into `dest`'s photo cache (`_fetch`); one that cannot be fetched is that SKU's error.

    An explicitly requested extractor that cannot run (extra or weights missing, model id wrong)
    raises BackendUnavailable before any item is processed.
    """
    t0 = time.perf_counter()
    method = method or cfg.subject.method
    settings = cfg.section("subject")
    check_settings(settings)  # a bad subject.* value is a run error (exit 2), not N item errors
    if method != "auto":
        ex = usable_extractor(method, settings)
        if hasattr(ex, "models"):
            ex.models()  # load now: a wrong model id is a run error (exit 2), not N item errors
    batch = int((settings.get("grounded-sam") or {}).get("batch_size", 8))
    results: list[ExtractResult] = []
    tiles: list[Image.Image] = []
    rows, failed = _fetch(list(rows), dest, cfg)
    for chunk in _batches(rows, batch):
        for res, subject in _extract_batch(chunk, method, settings, cfg.subject.default_prompt, dest, failed):
            results.append(res)
            tiles.append(tile(SheetEntry(res.sku, subject, res.error)))
            if on_result:
                on_result(res)
    dest.mkdir(parents=True, exist_ok=True)
    atomic_save_image(dest / SHEET, sheet_from_tiles(tiles, title=f"ecomctl extract — {len(tiles)} SKUs, method {method}"))
    summary = ExtractSummary(dest, tuple(results), time.perf_counter() - t0)
    atomic_write_json(dest / SUMMARY, {"schema": "ecomctl.extract/1", "method": method, "sheet": SHEET,
                                      "seconds": round(summary.seconds, 3),
                                      "items": [_row_json(r) for r in results]})
    return summary


def _row_json(r: ExtractResult) -> dict[str, Any]:
    return {"sku": r.sku, "status": r.status, "method": r.method, "note": r.note, "confidence": r.confidence,
            "confidence_why": r.confidence_why, "error": r.error,
            "bbox": r.bbox, "files": r.files, "seconds": round(r.seconds, 3), "where": r.where}
