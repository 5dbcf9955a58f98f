"""QA stage: measure each finished poster (text, subject, layout, image), compare a SKU's variants,
and write the run's reports. Thresholds come from the `qa:` config section (see thresholds.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecomctl.config import Config
from ecomctl.qa.grade import (  # the grading half of the stage (its code is in the grading key)
    check_poster,
    check_variants,
    grading_key,
    measure_key,
    merge_checks,
    ocr_section,
    ocr_settings,
    preflight,
    process_ocr,
)
from ecomctl.qa.thresholds import thresholds
from ecomctl.types import ItemResult

__all__ = ["check_poster", "check_variants", "grading_key", "measure_key", "merge_checks", "ocr_section", "ocr_settings",
           "preflight", "process_ocr", "write_reports"]


def prepare_reports() -> None:
    """Import the report writers and compile the HTML template now. A run with worker processes calls this
    while its fork server loads (the main process is idle then), so the serial tail after the last poster
    is just writing the three files."""
    from ecomctl.qa import report  # noqa: F401
    from ecomctl.qa.report_html import template

    template()


def write_reports(out_dir: Path, results: Sequence[ItemResult], cfg: Config) -> bool:
    """report.json (schema ecomctl.report/1), report.csv and report.html in `out_dir`. `results` is a run's
    `ReportSpool` (its rows already spooled) or any sequence of results (spooled here).

    Cost follows change: when every result was resumed unchanged and the three reports of this content
    (rows, settings, report code: the spool's content key) were already written whole, they are kept as
    they are and False is returned — a no-op night after a no-op night rewrites no report. A run that
    rendered or re-graded anything always writes them (its posters' thumbnails may have changed even where
    the rows read the same). The key file is removed before writing and written after
    the three files, so a night that could not write them all never counts as written."""
    from ecomctl.qa.report import ReportSpool, write_csv, write_json
    from ecomctl.qa.report_html import write_html
    from ecomctl.store import OutputStore, atomic_write_text

    store = OutputStore(out_dir)
    store.root.mkdir(parents=True, exist_ok=True)
    limits = thresholds(cfg)
    spool = results if isinstance(results, ReportSpool) else ReportSpool(store.root, results)
    try:
        key = spool.content_key(limits.model_dump(mode="json"))
        if spool.only_resumed and _written(store, key):
            return False
        store.report_key.unlink(missing_ok=True)
        write_json(store.report_json, spool, limits.model_dump(exclude={"report"}))
        write_csv(store.report_csv, spool)
        write_html(store.report_html, spool, limits)
        atomic_write_text(store.report_key, key + "\n")
        return True
    finally:
        if spool is not results:
            spool.close()


def _written(store: Any, key: str) -> bool:
    """True when the reports in OUT were written whole from content with this key (and are still there)."""
    try:
        recorded = store.report_key.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == key and all(p.is_file() for p in (store.report_json, store.report_csv, store.report_html))
