"""Re-grading stored posters: recompute a SKU's QA from what the store kept (e.g. after a threshold change) and
write each new verdict into its sidecar. `ecomctl qa OUT` (engine/recheck.py) and a render whose QA
settings changed (engine/item.py) both come here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ecomctl.config import Config
from ecomctl.errors import EcomctlError
from ecomctl.qa import check_poster, check_variants
from ecomctl.qa.style import CHECK
from ecomctl.store import OutputStore
from ecomctl.store.posters import load_poster, rewrite_sidecar
from ecomctl.store.sidecar import SidecarError, qa_json, read_sidecar
from ecomctl.types import ItemResult, Poster, QAResult


def regrade_sku(store: OutputStore, paths: list[Path], cfg: Config, key: str | None = None,
                also: Callable[[Poster, QAResult], QAResult] | None = None,
                measure: str | None = None) -> list[ItemResult]:
    """Grade one SKU's stored posters (its variants' sidecars) again from their layers and write each new
    verdict — and `key`, the grading key it was made with (and `measure`, its measuring key) — into its sidecar (once: `also` adds the checks
    of a later stage first, e.g. a campaign's style check). The poster files are only
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
    if also is not None:
        verdicts = [also(p, v) for p, v in zip(posters, verdicts)]
    results = [_store(store, path, poster, qa, key, measure) for (path, poster), qa in zip(loaded, verdicts)]
    return sorted(results + errors, key=lambda r: r.variant or 0)


def _store(store: OutputStore, path: Path, poster: Poster, qa: QAResult, key: str | None,
           measure: str | None = None) -> ItemResult:
    """Write the new verdict into the sidecar (atomically) and make the report row."""
    try:
        data = read_sidecar(path)
    except SidecarError as e:  # changed under us since load_poster read it
        return ItemResult(sku=poster.row.sku, variant=poster.variant, status="error", sidecar=path, error=str(e))
    data["qa"] = qa_json(qa)
    if key is not None:
        data["qa_key"] = key
    if measure is not None:
        data["qa_measure_key"] = measure
    seconds = qa.details.get("seconds", {})
    data["timings"]["qa"] = round(float(sum(seconds.values())), 3)
    rewrite_sidecar(path, data)
    subject = data.get("subject", {})
    scored = any(c.name == CHECK for c in qa.checks)  # its campaign's style check
    return ItemResult(sku=poster.row.sku, variant=poster.variant, status=qa.status,
                      image=store.of_sidecar(path).layer(data["image"]), sidecar=path, qa=qa,
                      seconds=float(sum(seconds.values())), where=poster.row.where,
                      subject_method=subject.get("method"), subject_note=subject.get("note"),
                      campaign=poster.row.campaign if scored else None)
