"""Re-judging stored verdicts: when only the limits of the checks the table marks `rejudge` changed (a
sidecar's `qa_measure_key` still matches, qa/grade.py), their verdicts are made again from what the sidecar
stored — the measured values and the per-line rows in `qa.details` — with the measurers' own verdict code,
so the result is the one a full re-grade would give; no image is opened and no OCR runs. Anything not
stored as expected raises Unjudgeable and the caller re-grades in full."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ecomctl.config import Config
from ecomctl.outcome import worst
from ecomctl.qa.checks import (
    check_mask_confidence,
    contrast_check,
    margin_check,
    overlap_check,
    subject_checks,
)
from ecomctl.qa.style import CHECK
from ecomctl.qa.text import line_checks
from ecomctl.qa.thresholds import thresholds
from ecomctl.store import OutputStore
from ecomctl.store.posters import rewrite_sidecar
from ecomctl.store.sidecar import SidecarError, qa_from_json, qa_json, read_sidecar
from ecomctl.types import Check, ItemResult, QAResult


class Unjudgeable(Exception):
    """The stored verdict lacks what re-judging needs: grade the poster again instead."""


def _subject(checks: dict[str, Check], data: dict[str, Any], details: dict[str, Any], t: Any) -> list[Check]:
    found = [checks.get(n) for n in ("subject.iou", "subject.psnr", "subject.ssim")]
    if not any(found):
        return []
    if all(c is not None and c.value is not None for c in found):
        return subject_checks(*(float(c.value) for c in found), t.subject)  # type: ignore[union-attr]
    if len([c for c in found if c]) == 1 and found[0] is not None and found[0].value is None:
        return []  # "mask empty / size differs": fails whatever the limits
    raise Unjudgeable("subject checks stored incompletely")


def _confidence(checks: dict[str, Check], data: dict[str, Any], details: dict[str, Any], t: Any) -> list[Check]:
    if "subject.confidence" not in checks:
        return []
    return check_mask_confidence(SimpleNamespace(meta={"subject": data["subject"]}), t.subject)  # type: ignore[arg-type]


def _layout(checks: dict[str, Check], data: dict[str, Any], details: dict[str, Any], t: Any) -> list[Check]:
    if not any(n in checks for n in ("layout.overlap", "layout.margin", "layout.contrast")):
        return []
    rows = details["layout"]["lines"]
    if not rows:
        raise Unjudgeable("no stored layout rows")
    return [overlap_check(rows, t.layout), margin_check(rows, t.layout), contrast_check(rows, t.layout)]


def _text(checks: dict[str, Check], data: dict[str, Any], details: dict[str, Any], t: Any) -> list[Check]:
    if "text.ned" not in checks:
        return []
    return line_checks(list(details["text"]["lines"]), t.text)


# the measurers whose checks are marked `rejudge` in qa/registry.py: each remakes them from the sidecar
REJUDGES: tuple[Callable[[dict[str, Check], dict[str, Any], dict[str, Any], Any], list[Check]], ...] = (
    _subject, _confidence, _layout, _text)


def rejudge(data: dict[str, Any], cfg: Config) -> QAResult:
    """The sidecar's verdict with every re-judgeable check made again against `cfg`'s limits (the other
    checks, their settings being part of the measuring key, kept as stored) and its status recomputed."""
    qa = qa_from_json(data.get("qa"))
    if qa is None:
        raise Unjudgeable("no stored verdict")
    t = thresholds(cfg)
    stored = {c.name: c for c in qa.checks}
    new: dict[str, Check] = {}
    try:
        for remake in REJUDGES:
            new |= {c.name: c for c in remake(stored, data, qa.details, t)}
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise Unjudgeable(f"{type(e).__name__}: {e}") from None
    if set(new) - set(stored):
        raise Unjudgeable(f"checks not stored before: {sorted(set(new) - set(stored))}")
    checks = tuple(new.get(c.name, c) for c in qa.checks)
    return QAResult(worst([c.status for c in checks]), checks, qa.details)


def rejudge_sku(store: OutputStore, paths: list[Path], cfg: Config, key: str,
                measure: str) -> list[ItemResult] | None:
    """Re-judge one SKU's sidecars (all or none: None when any cannot be, nothing written) and write each
    new verdict with `key`/`measure` (the grading and measuring keys) into its sidecar, once."""
    made: list[tuple[Path, dict[str, Any], QAResult]] = []
    for path in paths:
        try:
            data = read_sidecar(path)
            made.append((path, data, rejudge(data, cfg)))
        except (SidecarError, Unjudgeable, OSError):
            return None
    results = []
    for path, data, qa in made:
        data["qa"], data["qa_key"], data["qa_measure_key"] = qa_json(qa), key, measure
        rewrite_sidecar(path, data)
        files = store.of_sidecar(path)
        subject = data.get("subject", {})
        scored = any(c.name == CHECK for c in qa.checks)
        results.append(ItemResult(sku=files.sku, variant=files.variant or None, status=qa.status,
                                  image=files.layer(data["image"]), sidecar=path, qa=qa,
                                  subject_method=subject.get("method"), subject_note=subject.get("note"),
                                  campaign=data["inputs"].get("campaign") or None if scored else None))
    return sorted(results, key=lambda r: r.variant or 0)
