"""`ecomctl qa OUT`: recompute QA for a finished output folder from its sidecars (e.g. after a threshold
change), rewrite each sidecar's `qa` and the run's reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ecomctl.config import Config
from ecomctl.errors import EcomctlError
from ecomctl.io import atomic_write_json, output_lock
from ecomctl.qa import check_poster, check_variants, preflight, write_reports
from ecomctl.types import ItemResult, Poster, QAResult

OnResult = Callable[[ItemResult], None]


def find_sidecars(out_dir: Path) -> list[Path]:
    """Poster sidecars `OUT/<sku>/<sku>-v<k>.json` (other JSON files in the folder are ignored)."""
    from ecomctl.engine.sidecar import SCHEMA

    found = []
    for path in sorted(Path(out_dir).glob("*/*.json")):
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(head, dict) and head.get("schema") == SCHEMA:
            found.append(path)
    return found


def recheck(out_dir: Path, cfg: Config, on_result: OnResult | None = None) -> list[ItemResult]:
    """QA every poster of `out_dir` again; one unreadable poster becomes an error row, never an abort."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise EcomctlError(f"{out_dir}: no such output folder")
    sidecars = find_sidecars(out_dir)
    if not sidecars:
        raise EcomctlError(f"{out_dir}: no poster sidecars found (expected <sku>/<sku>-v<k>.json)")
    preflight(cfg)
    groups: dict[str, list[Path]] = {}
    for path in sidecars:
        groups.setdefault(path.parent.name, []).append(path)
    results: list[ItemResult] = []
    with output_lock(out_dir):  # never rewrite sidecars while a render writes the same folder
        for paths in groups.values():
            for res in _recheck_sku(paths, cfg):
                results.append(res)
                if on_result:
                    on_result(res)
        write_reports(out_dir, results, cfg)
    return results


def _recheck_sku(paths: list[Path], cfg: Config) -> list[ItemResult]:
    from ecomctl.engine.sidecar import load_poster

    loaded: list[tuple[Path, Poster]] = []
    errors: list[ItemResult] = []
    for path in paths:
        try:
            loaded.append((path, load_poster(path)))
        except (EcomctlError, OSError, KeyError, ValueError, TypeError) as e:
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            errors.append(ItemResult(path.parent.name, _variant(path), "error", None, path,
                                     f"cannot rebuild poster from {path.name}: {why}"))
    posters = [p for _, p in loaded]
    verdicts = check_variants(posters, [check_poster(p, cfg) for p in posters], cfg)
    results = [_store(path, poster, qa) for (path, poster), qa in zip(loaded, verdicts)]
    return sorted(results + errors, key=lambda r: r.variant or 0)


def _variant(path: Path) -> int | None:
    tail = path.stem.rsplit("-v", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _store(path: Path, poster: Poster, qa: QAResult) -> ItemResult:
    """Write the new verdict into the sidecar (atomically) and make the report row."""
    from ecomctl.engine.sidecar import qa_json, read_sidecar

    data = read_sidecar(path)
    data["qa"] = qa_json(qa)
    seconds = qa.details.get("seconds", {})
    data.setdefault("timings", {})["qa"] = round(float(sum(seconds.values())), 3)
    atomic_write_json(path, data)
    subject = data.get("subject", {})
    return ItemResult(poster.row.sku, poster.variant, qa.status, path.parent / data["image"], path, None, qa,
                      float(sum(seconds.values())), poster.row.where, subject_method=subject.get("method"),
                      subject_note=subject.get("note"))
