"""`ecomctl qa OUT`: recompute QA for a finished output folder from what the store kept (e.g. after a
threshold change): every SKU re-graded (qa/recheck.py) with the campaign stage's style check
(engine/campaigns.py), each sidecar's `qa` written once, and the run's reports rewritten."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ecomctl.config import Config
from ecomctl.engine.campaigns import with_check
from ecomctl.errors import EcomctlError
from ecomctl.qa import grading_key, measure_key, preflight, write_reports
from ecomctl.qa.recheck import regrade_sku
from ecomctl.store import OutputStore
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
    key, measure = grading_key(cfg), measure_key(cfg)
    groups: dict[str, list[Path]] = {}
    for path in sidecars:
        groups.setdefault(path.parent.name, []).append(path)
    results: list[ItemResult] = []

    def campaign_check(poster: Poster, verdict: QAResult) -> QAResult:  # against OUT/campaigns/<name>.png
        return with_check(poster, verdict, store, cfg, rendered=False)

    with store.lock():  # never rewrite sidecars while a render writes the same folder
        for paths in groups.values():
            for res in regrade_sku(store, paths, cfg, key, also=campaign_check, measure=measure):
                results.append(res)
                if on_result:
                    on_result(res)
        write_reports(store.root, results, cfg)
    return results
