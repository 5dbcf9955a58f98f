"""QA grading: measure one finished poster (text, subject, layout, image) and compare a SKU's variants
against the `qa:` thresholds; the grading key that says which settings and code made a stored verdict.
Everything whose change can change a verdict lives here or in the modules `grading_code` names."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ecomctl.config import Config
from ecomctl.outcome import worst
from ecomctl.qa import registry
from ecomctl.qa.checks import poster_rgb
from ecomctl.qa.thresholds import thresholds
from ecomctl.qa.variants import variant_checks
from ecomctl.types import Check, Poster, QAResult

# the code whose change can change a verdict: the table and every measurer module it names (grading_code),
# these helpers they share, and the OCR engines (the report writers, qa/__init__.py included, are not here: a
# new report layout re-grades nothing)
_SHARED_CODE = ("qa/grade.py", "qa/registry.py", "qa/thresholds.py", "qa/metrics.py", "qa/rejudge.py", "text/colour.py",
                "text/ocr/__init__.py", "text/ocr/rapidocr.py", "text/ocr/paddleocr.py")


def grading_code() -> tuple[str, ...]:
    """The source files (relative to the package) a verdict depends on: the shared ones above and the module
    of every measurer the check table names (a check added in its own module counts without a list here)."""
    measured = [m.function.partition(":")[0].removeprefix("ecomctl.").replace(".", "/") + ".py"
                for m in registry.MEASURES]
    return tuple(dict.fromkeys([*_SHARED_CODE, *measured]))


_CODE_DIGEST: str | None = None


def _code_digest() -> str:
    """sha256 over the grading code's sources and the OCR runtime versions, once per process."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        import hashlib
        from importlib import metadata

        from ecomctl import source_digest

        h = hashlib.sha256(source_digest(grading_code()).encode())
        for dist in ("rapidocr", "onnxruntime", "paddleocr"):
            try:
                h.update(f"{dist}={metadata.version(dist)};".encode())
            except metadata.PackageNotFoundError:
                h.update(f"{dist}=-;".encode())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def _digest(material: Any) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]


def split_settings(cfg: Config) -> tuple[dict[str, Any], dict[str, float]]:
    """The `qa:` settings (not the report's own) as (measuring, limits): `limits` holds the warn/fail limits
    of the checks the table marks `rejudge` ("section.name" → value; purely compared against a value the
    sidecar stores, see qa/rejudge.py), `measuring` everything else (a setting that changes what is
    measured, or a limit whose verdict needs the poster again)."""
    measuring = thresholds(cfg).model_dump(mode="json", exclude={"report"})
    limits = {}
    for lim in registry.rejudged_limits():
        limits[lim.field] = measuring[lim.section].pop(lim.key)
    return measuring, limits


def measure_key(cfg: Config) -> str:
    """What a stored poster's measurements depend on besides its pixels: the `qa:` settings that are not
    re-judgeable limits (split_settings), the `ocr:` settings (not its thread count) and the grading code.
    A sidecar records it as `qa_measure_key`: while it matches, a changed grading key only re-judges."""
    ocr = {k: v for k, v in cfg.section("ocr").items() if k != "threads"}
    return _digest({"qa": split_settings(cfg)[0], "ocr": ocr, "code": _code_digest()})


def limits_key(cfg: Config) -> str:
    """The re-judgeable limits' digest (split_settings)."""
    return _digest(split_settings(cfg)[1])


def grading_key(cfg: Config) -> str:
    """What a stored verdict depends on besides the poster's pixels: the measuring key and the limits key.
    A sidecar records it as `qa_key`; a poster whose render key still matches but whose qa_key does not is
    re-judged from its stored measurements when only the limits changed (its `qa_measure_key` matches,
    qa/rejudge.py), else re-graded from its stored layers (as `ecomctl qa` does), never rendered again."""
    return _digest({"measure": measure_key(cfg), "limits": limits_key(cfg)})


def ocr_section(cfg: Config) -> dict[str, Any]:
    """The `ocr:` section; with several worker processes and no explicit `ocr.threads`, each worker's
    onnxruntime gets its share of the cores instead of all of them (no oversubscription)."""
    section = cfg.section("ocr")
    if not section.get("threads") and cfg.run.thread_share():
        section["threads"] = cfg.run.thread_share()
    return section


def ocr_settings(cfg: Config):  # -> OcrSettings (the OCR package is imported lazily)
    """The typed `ocr:` settings of this Config, validated once (see Config.typed)."""
    from ecomctl.text.ocr import OcrSettings

    return cfg.typed("ocr", OcrSettings, ocr_section(cfg))


def process_ocr(cfg: Config) -> None:
    """Configure this process's OCR engine from the run's settings (lazy: models load on first use), so
    that every stage that reads text (QA, the saliency extractor's copy filter) shares it."""
    if thresholds(cfg).text.enabled:
        from ecomctl.text.ocr import get_ocr

        get_ocr(ocr_settings(cfg))


def preflight(cfg: Config) -> None:
    """Validate the qa:/ocr: sections and load the OCR engine once, before any poster is made, so a bad
    threshold or a missing OCR engine stops the command (exit 2) instead of failing every item."""
    t = thresholds(cfg)
    if t.text.enabled:
        from ecomctl.text.ocr import get_ocr

        get_ocr(ocr_settings(cfg))


def check_poster(poster: Poster, cfg: Config) -> QAResult:
    """Every per-poster measurement, each turned into pass / warn / fail with a reason naming the fault: the
    poster measurers of ecomctl/qa/registry.py in its order, their checks listed in the table's order."""
    t = thresholds(cfg)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    sample = registry.Sample(poster, t, cfg, poster_rgb(poster))  # the image as an array once, shared
    checks: list[Check] = []
    details: dict[str, Any] = {}
    for m in registry.MEASURES:
        if m.scope != "poster" or not m.on(t):
            continue
        made = m.load()(sample)
        found, extra = made if isinstance(made, tuple) else (made, None)
        checks += found
        if m.details is not None:
            details[m.details] = extra
        now = time.perf_counter()
        seconds[m.clock] = seconds.get(m.clock, 0.0) + now - t0
        t0 = now
    checks = registry.order(checks)
    details["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    return QAResult(worst([c.status for c in checks]), tuple(checks), details)


def merge_checks(result: QAResult, extra: Sequence[Check]) -> QAResult:
    """The result with `extra` checks added (replacing same-named ones) and its status recomputed."""
    names = {c.name for c in extra}
    checks = tuple(c for c in result.checks if c.name not in names) + tuple(extra)
    return QAResult(worst([c.status for c in checks]), checks, result.details)


def check_variants(posters: Sequence[Poster], results: Sequence[QAResult], cfg: Config) -> list[QAResult]:
    """Compare the variants of one SKU (same order as `results`); returns the results with variant checks."""
    per_poster = variant_checks(posters, thresholds(cfg).variants)
    return [merge_checks(r, extra) for r, extra in zip(results, per_poster)]
