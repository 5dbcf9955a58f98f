"""QA configuration (`qa:` section): thresholds that turn measurements into pass / warn / fail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from ecomctl.config import Config, KeyedValueError, validate_section
from ecomctl.qa import registry
from ecomctl.qa.registry import CheckSpec, Limit, grade  # noqa: F401 (grade: re-exported)


class _S(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Each section's own settings; the check limits (warn/fail pairs) are added from ecomctl/qa/registry.py.
class _TextSettings(_S):
    enabled: bool = True
    pad: float = 0.2  # crop padding around a line's ink box, fraction of the line height
    min_crop_height: int = 48  # smaller crops are upscaled to this height before recognition
    stray_text: Literal["off", "warn", "fail"] = "warn"  # text found outside the copy and the product
    stray_min_chars: int = 2  # shorter stray reads are treated as noise
    stray_min_score: float = 0.5  # and so are reads the recogniser is less sure of
    stray_scan_px: int = 768  # longest side the stray-text detector looks at (0 = the engine's default)


class _SubjectSettings(_S):
    tolerance: int = 16  # max per-channel difference for an output pixel to count as the product's


class _LayoutSettings(_S):
    pass


class _ImageSettings(_S):
    flat_std: float = 2.0  # grey-level standard deviation below this: blank/flat image, fails
    dominant_share: float = 0.98  # one colour covering this share of the canvas: blank, fails
    mode: str = "RGB"


class _VariantSettings(_S):
    enabled: bool = True
    palette_delta_e: float = 6.0  # variants of a SKU whose palettes are closer than this look alike
    phash_distance: int = 6  # perceptual-hash Hamming distance at or below this: near-duplicates
    status: Literal["warn", "fail"] = "warn"


class _StyleSettings(_S):
    enabled: bool = True  # campaign posters get a style.campaign score (learned style embedding, qa/style.py)


class ReportSettings(_S):
    thumb_px: int = 160  # longest side of the JPEG thumbnails inlined into report.html
    thumb_quality: int = 70
    max_thumbs: int = 2000  # beyond this many items, rows link to their image without an inline thumbnail
    max_rows: int = 5000  # report.html lists every non-pass item, and passes up to this many rows in all


# section → (its own settings, the name of its model here: workers unpickle a Config's typed sections by it)
_SECTIONS: dict[str, tuple[type[_S], str]] = {
    "text": (_TextSettings, "TextThresholds"), "subject": (_SubjectSettings, "SubjectThresholds"),
    "layout": (_LayoutSettings, "LayoutThresholds"), "image": (_ImageSettings, "ImageThresholds"),
    "variants": (_VariantSettings, "VariantThresholds"), "style": (_StyleSettings, "StyleThresholds")}


def qa_model(checks: Sequence[CheckSpec]) -> type[BaseModel]:
    """The `qa:` section's model: each section's own settings plus the limits `checks` declare, and a
    validator that each check's fail limit lies beyond its warn limit."""
    sections: dict[str, Any] = {}
    for name, (base, model_name) in _SECTIONS.items():
        fields: dict[str, Any] = {lim.key: (float, Field(lim.default, description=lim.help or None))
                                  for lim in registry.limits(checks) if lim.section == name}
        model = create_model(model_name, __base__=base, __module__=__name__, **fields)
        sections[name] = (model, model())
    unknown = {lim.section for lim in registry.limits(checks)} - set(sections)
    if unknown:
        raise ValueError(f"QA limits in unknown qa: sections {sorted(unknown)} (known: {sorted(sections)})")

    def ordered(self: Any) -> Any:
        for s in checks:
            if isinstance(s.warn, Limit) and isinstance(s.fail, Limit):
                warn, fail = s.limits(self)
                if (fail > warn) if s.higher_is_better else (fail < warn):
                    side, worse = ("above", "lower") if s.higher_is_better else ("below", "higher")
                    raise KeyedValueError(f"fail limit {fail:g} is {side} the warn limit {warn:g} (a {worse} "
                                          f"value is worse)", (s.fail.field, s.warn.field))
        return self

    return create_model("QAThresholds", __base__=_S, __module__=__name__, __validators__={"_ordered": model_validator(mode="after")(ordered)},
                        **sections, report=(ReportSettings, ReportSettings()))


QAThresholds: Any = qa_model(registry.CHECKS)
TextThresholds: Any = QAThresholds.model_fields["text"].annotation
SubjectThresholds: Any = QAThresholds.model_fields["subject"].annotation
LayoutThresholds: Any = QAThresholds.model_fields["layout"].annotation
ImageThresholds: Any = QAThresholds.model_fields["image"].annotation
VariantThresholds: Any = QAThresholds.model_fields["variants"].annotation
StyleThresholds: Any = QAThresholds.model_fields["style"].annotation


_MODELS: dict[tuple[CheckSpec, ...], Any] = {registry.CHECKS: QAThresholds}


def qa_thresholds_model() -> Any:
    """The `qa:` model of the check table as it is now (QAThresholds; a test may declare more checks)."""
    if registry.CHECKS not in _MODELS:
        _MODELS[registry.CHECKS] = qa_model(registry.CHECKS)
    return _MODELS[registry.CHECKS]


def thresholds(cfg: Config | dict[str, Any] | None) -> Any:  # -> QAThresholds
    """Typed thresholds of a Config (its `qa:` section, validated once per Config) or of a plain dict."""
    model = qa_thresholds_model()
    if isinstance(cfg, Config):
        return cfg.typed("qa", model)
    return validate_section(model, dict(cfg or {}), "qa")
