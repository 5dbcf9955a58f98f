"""QA checks declared once: each check's name, the measurer that makes it, its name in words, its warn/fail
limits (the `qa:` config fields and their defaults) and its report.html column. `check_poster` runs the
poster measurers named here, `thresholds.py` builds the `qa:` limit fields and their order validation from
here, and the report's columns and words and a result's check order follow this table.

To add a check: write its measurer in its module (`fn(sample) -> [Check]` or `([Check], details)`, verdicts
via `judge`/`grade` so the limits come from here); add a `CheckSpec` below (and a `Measure` if the measurer
is new). Nothing else: config fields, their validation, the report column and the check's words in the
report and the terminal summary follow from the entry.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ecomctl.types import Check, Poster, Status


@dataclass(frozen=True)
class Limit:
    """A threshold the `qa:` config holds: `field` is "section.name" (qa.section.name in a config file)."""

    field: str
    default: float
    help: str = ""

    @property
    def section(self) -> str:
        return self.field.partition(".")[0]

    @property
    def key(self) -> str:
        return self.field.partition(".")[2]

    def value(self, t: Any) -> float:
        """Its value in `t`: the whole `qa:` model (QAThresholds) or its own section's (SubjectThresholds …)."""
        return getattr(getattr(t, self.section) if hasattr(t, self.section) else t, self.key)


@dataclass(frozen=True)
class CheckSpec:
    """One check. `label`: its name in words (report.html, the terminal summary); `warn`/`fail`: a config
    `Limit`, a fixed number, or None (no such band); `column`: its place among the HTML report's metric
    columns (None: it shows in the reasons, summary and CSV only)."""

    name: str
    measure: str  # the `Measure` that makes it
    label: str
    warn: Limit | float | None = None
    fail: Limit | float | None = None
    higher_is_better: bool = True
    column: int | None = None
    # its verdict is re-derived from what the sidecar stored (qa/rejudge.py) when only limits change: its
    # limits are then in the limits key, not the measuring key (qa/grade.py); False: a change re-measures
    rejudge: bool = False

    def limits(self, t: Any) -> tuple[float, float]:
        """(warn, fail) in `t` (QAThresholds, or the section holding its limits); a missing band is never
        crossed."""
        never = -math.inf if self.higher_is_better else math.inf
        fail = never if self.fail is None else _value(self.fail, t)
        warn = fail if self.warn is None else _value(self.warn, t)
        return warn, fail


@dataclass(frozen=True)
class Measure:
    """A measurer: `function` is "module:name"; scope "poster" measurers are run by `check_poster` in this
    table's order (with `Sample`), the others by their stage (variants per SKU, style per run). `clock`:
    the details' `seconds` entry its time counts to; `details`: the key its details are kept under;
    `enabled`: a `qa:` bool setting that switches it off."""

    name: str
    function: str
    scope: Literal["poster", "sku", "run"] = "poster"
    clock: str = "pixels"
    details: str | None = None
    enabled: str | None = None

    def load(self) -> Callable[..., Any]:
        module, _, name = self.function.partition(":")
        return getattr(importlib.import_module(module), name)

    def on(self, t: Any) -> bool:
        return self.enabled is None or bool(Limit(self.enabled, 0).value(t))


@dataclass
class Sample:
    """What a poster measurer gets: the poster, the run's typed thresholds, the Config (for the OCR engine)
    and the poster as an HxWx3 uint8 array (made once, shared)."""

    poster: Poster
    t: Any  # QAThresholds
    cfg: Any  # Config
    rgb: Any  # np.ndarray


def _value(limit: Limit | float, t: Any) -> float:
    return limit.value(t) if isinstance(limit, Limit) else float(limit)


_C = "ecomctl.qa.checks:"
MEASURES: tuple[Measure, ...] = (
    Measure("image", _C + "measure_image"),
    Measure("subject", _C + "measure_subject", details="subject"),
    Measure("confidence", _C + "measure_confidence"),
    Measure("layout", _C + "measure_layout", details="layout"),
    Measure("layout_metrics", "ecomctl.qa.layout_metrics:measure_layout_metrics", details="layout_metrics"),
    Measure("brand", "ecomctl.qa.brand:measure_brand"),
    Measure("text", "ecomctl.qa.text:measure_text", clock="text", details="text", enabled="text.enabled"),
    Measure("variants", "ecomctl.qa.variants:variant_checks", scope="sku"),
    Measure("style", "ecomctl.qa.style:campaign_check", scope="run"),  # applied by engine/campaigns.py
)

# A result lists its checks in this order.
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("text.ned", "text", rejudge=True, label="copy read back (NED)", column=0,  # the worst line decides
              warn=Limit("text.line_ned_warn", 1.0, "below this (not an exact read after normalisation) warns"),
              fail=Limit("text.line_ned_fail", 0.8, "a line read with NED below this fails the poster")),
    CheckSpec("text.sen_acc", "text", rejudge=True, label="lines read exactly", column=1,
              warn=Limit("text.min_sen_acc", 1.0, "share of lines read exactly; below → warn")),
    CheckSpec("text.stray", "text", "stray text"),  # status: qa.text.stray_text
    CheckSpec("image.finite", "image", "image finite"),
    CheckSpec("image.flat", "image", "image not flat"),  # qa.image.flat_std / dominant_share: fails
    CheckSpec("image.size", "image", "image size"),
    CheckSpec("image.mode", "image", "image mode"),
    CheckSpec("subject.iou", "subject", rejudge=True, label="product mask match (IoU)", column=3,
              warn=Limit("subject.iou_warn", 0.99), fail=Limit("subject.iou_fail", 0.95)),
    CheckSpec("subject.psnr", "subject", rejudge=True, label="product pixels (PSNR)", column=4,
              warn=Limit("subject.psnr_warn", 38.0), fail=Limit("subject.psnr_fail", 30.0)),
    CheckSpec("subject.ssim", "subject", rejudge=True, label="product pixels (SSIM)", column=5,
              warn=Limit("subject.ssim_warn", 0.98), fail=Limit("subject.ssim_fail", 0.90)),
    CheckSpec("subject.confidence", "confidence", rejudge=True, label="mask confidence", column=2,
              warn=Limit("subject.confidence_warn", 0.7, "mask confidence (ecomctl.subject.confidence) below "
                                                         "this warns"),
              fail=Limit("subject.confidence_fail", 0.3, "and below this fails: the mask is most likely not "
                                                         "the product")),
    CheckSpec("layout.overlap", "layout", rejudge=True, label="copy on the product", column=7, higher_is_better=False,
              warn=Limit("layout.overlap_warn", 0.02, "share of a line's ink box that lies on the product"),
              fail=Limit("layout.overlap_fail", 0.10)),
    CheckSpec("layout.margin", "layout", rejudge=True, label="copy margin", fail=0.0,  # a line past the canvas edge fails
              warn=Limit("layout.margin_warn", 0.02, "distance of copy to the canvas edge, fraction of the "
                                                     "short side")),
    CheckSpec("layout.contrast", "layout", rejudge=True, label="text contrast", column=6,
              warn=Limit("layout.contrast_warn", 4.5, "WCAG ratio text colour vs measured local background"),
              fail=Limit("layout.contrast_fail", 3.0)),
    # the poster-layout literature's metrics (qa/layout_metrics.py, docs/layout-metrics.md): measurements
    # that always pass (copy on the product already fails as layout.overlap); Val shows in the summary/CSV
    CheckSpec("layout.val", "layout_metrics", "validity"),
    CheckSpec("layout.ove", "layout_metrics", "overlap", column=8, higher_is_better=False),
    CheckSpec("layout.ali", "layout_metrics", "alignment", column=9, higher_is_better=False),
    CheckSpec("layout.und_l", "layout_metrics", "underlay (loose)", column=10),
    CheckSpec("layout.und_s", "layout_metrics", "underlay (strict)", column=11),
    CheckSpec("layout.uti", "layout_metrics", "utility", column=12),
    CheckSpec("layout.occ", "layout_metrics", "occlusion", column=13, higher_is_better=False),
    CheckSpec("layout.rea", "layout_metrics", "readability", column=14, higher_is_better=False),
    CheckSpec("layout.logo", "brand", "logo drawn",
              warn=Limit("layout.logo_warn", 0.98, "share of the logo's solid pixels the poster shows as the logo "
                                                   "has them, in the logo box"),
              fail=Limit("layout.logo_fail", 0.90)),
    # copy given up: warns, names it
    CheckSpec("layout.dropped", "brand", "copy dropped", warn=0.0, higher_is_better=False),
    # status from qa.variants.palette_delta_e and qa.variants.phash_distance
    CheckSpec("variants.palette_de", "variants", "variant palette distance", column=15),
    CheckSpec("variants.phash", "variants", "variant near-duplicate", column=16),
    CheckSpec("style.campaign", "style", "campaign look", column=17,
              warn=Limit("style.campaign_warn", 0.80, "cosine to the campaign reference below this: the "
                                                      "poster is off the look")),
)


def spec(name: str, checks: Sequence[CheckSpec] | None = None) -> CheckSpec:
    for s in CHECKS if checks is None else checks:
        if s.name == name:
            return s
    raise KeyError(f"QA check {name!r} is not declared in ecomctl/qa/registry.py")


def limits(checks: Sequence[CheckSpec] | None = None) -> list[Limit]:
    """Every config limit the checks declare, in table order (warn before fail)."""
    return [lim for s in (CHECKS if checks is None else checks) for lim in (s.warn, s.fail)
            if isinstance(lim, Limit)]


def rejudged_limits(checks: Sequence[CheckSpec] | None = None) -> list[Limit]:
    """The config limits of the checks marked `rejudge`: those a limits-only change re-judges from the
    stored sidecar instead of measuring again (qa/rejudge.py)."""
    return [lim for s in (CHECKS if checks is None else checks) if s.rejudge for lim in (s.warn, s.fail)
            if isinstance(lim, Limit)]


def columns(present: Sequence[str] | set[str] | None = None) -> list[str]:
    """The HTML report's metric columns in order: the checks with a `column`, those in `present` only."""
    shown = sorted((s.column, s.name) for s in CHECKS if s.column is not None)
    return [name for _, name in shown if present is None or name in present]


def grade(value: float | None, warn: float, fail: float, higher_is_better: bool = True) -> Status:
    """pass / warn / fail for a measurement against its two thresholds (None = not measurable → warn)."""
    if value is None:
        return "warn"
    if higher_is_better:
        return "fail" if value < fail else "warn" if value < warn else "pass"
    return "fail" if value > fail else "warn" if value > warn else "pass"


def status(name: str, value: float | None, t: Any) -> Status:
    """The check `name`'s verdict on `value` against its limits in `t` (see `CheckSpec.limits`)."""
    s = spec(name)
    return grade(value, *s.limits(t), s.higher_is_better)


def judge(name: str, value: float, t: Any, text: str, nd: int) -> Check:
    """A Check for `value` (rounded to `nd` places) graded by its limits; a non-pass reason reads
    "`text` < limit" (> for lower-is-better checks)."""
    s = spec(name)
    warn, fail = s.limits(t)
    verdict = grade(value, warn, fail, s.higher_is_better)
    limit = warn if verdict == "warn" else fail
    sign = "<" if s.higher_is_better else ">"
    return Check(name, round(value, nd), verdict, "" if verdict == "pass" else f"{text} {sign} {limit}")


def order(checks: Sequence[Check]) -> list[Check]:
    """`checks` in table order; a check the table does not declare is a programming error, said loudly."""
    rank = {s.name: i for i, s in enumerate(CHECKS)}
    for c in checks:
        if c.name not in rank:
            spec(c.name)
    return sorted(checks, key=lambda c: rank[c.name])
