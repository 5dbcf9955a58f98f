"""`ecomctl qa OUT`: recompute QA for a finished output folder from what the store kept (e.g. after a
threshold change), rewrite each sidecar's `qa` and the run's reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ecomctl.config import Config
from ecomctl.errors import EcomctlError
from ecomctl.qa import check_poster, check_variants, preflight, write_reports
from ecomctl.store import OutputStore
from ecomctl.store.posters import load_poster, rewrite_sidecar
from ecomctl.store.sidecar import SidecarError, qa_json, read_sidecar
from ecomctl.types import ItemResult, Poster, QAResult

OnResult = Callable[[ItemResult], None]


def recheck(out_dir: Path, cfg: Config, on_result: OnResult | None = None) -> list[ItemResult]:
    """QA every poster of `out_dir` again; one unreadable poster or sidecar becomes an error row naming the
    file and what is wrong with it, never an abort and never a silently dropped poster."""
    store = OutputStore(Path(out_dir))
    if not store.root.is_dir():
        raise EcomctlError(f"{store.root}: no such output folder")
    sidecars = store.sidecars()
    if not sidecars:
        raise EcomctlError(f"{store.root}: no poster sidecars found (expected <sku>/<sku>-v<k>.json)")
    preflight(cfg)
    from ecomctl.qa import grading_key

    key = grading_key(cfg)
    groups: dict[str, list[Path]] = {}
    for path in sidecars:
        groups.setdefault(path.parent.name, []).append(path)
    results: list[ItemResult] = []
    with store.lock():  # never rewrite sidecars while a render writes the same folder
        for paths in groups.values():
            for res in regrade_sku(store, paths, cfg, key):
                results.append(res)
                if on_result:
                    on_result(res)
        from ecomctl.qa.style import score_campaigns

        results = score_campaigns(store.root, results, cfg)  # campaign posters vs OUT/campaigns/<name>.png
        write_reports(store.root, results, cfg)
    return results


def regrade_sku(store: OutputStore, paths: list[Path], cfg: Config, key: str | None = None) -> list[ItemResult]:
    """Grade one SKU's stored posters (its variants' sidecars) again from their layers and write each new
    verdict — and `key`, the grading key it was made with — into its sidecar. The poster files are only
    read. `ecomctl qa` and a render whose QA settings changed both come here."""
    loaded: list[tuple[Path, Poster]] = []
    errors: list[ItemResult] = []
    for path in paths:
        try:
            loaded.append((path, load_poster(path)))
        except (EcomctlError, OSError, KeyError, ValueError, TypeError) as e:
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            files = store.of_sidecar(path)
            errors.append(ItemResult(sku=files.sku, variant=files.variant or None, status="error", sidecar=path,
                                     error=f"cannot rebuild poster from {path.name}: {why}"))
    posters = [p for _, p in loaded]
    verdicts = check_variants(posters, [check_poster(p, cfg) for p in posters], cfg)
    results = [_store(path, poster, qa, key) for (path, poster), qa in zip(loaded, verdicts)]
    return sorted(results + errors, key=lambda r: r.variant or 0)


def _store(path: Path, poster: Poster, qa: QAResult, key: str | None) -> ItemResult:
    """Write the new verdict into the sidecar (atomically) and make the report row."""
    try:
        data = read_sidecar(path)
    except SidecarError as e:  # changed under us since load_poster read it
        return ItemResult(sku=poster.row.sku, variant=poster.variant, status="error", sidecar=path, error=str(e))
    data["qa"] = qa_json(qa)
    if key is not None:
        data["qa_key"] = key
    seconds = qa.details.get("seconds", {})
    data["timings"]["qa"] = round(float(sum(seconds.values())), 3)
    rewrite_sidecar(path, data)
    subject = data.get("subject", {})
    return ItemResult(sku=poster.row.sku, variant=poster.variant, status=qa.status, image=path.parent / data["image"],
                      sidecar=path, qa=qa, seconds=float(sum(seconds.values())), where=poster.row.where,
                      subject_method=subject.get("method"), subject_note=subject.get("note"))
