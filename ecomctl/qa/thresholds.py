"""QA configuration (`qa:` section): thresholds that turn measurements into pass / warn / fail."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ecomctl.config import Config, validate_section
from ecomctl.types import Status


class _S(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextThresholds(_S):
    enabled: bool = True
    line_ned_fail: float = 0.8  # a line read with NED below this fails the poster
    line_ned_warn: float = 1.0  # below this (not an exact read after normalisation) warns
    min_sen_acc: float = 1.0  # share of lines read exactly; below → warn
    pad: float = 0.2  # crop padding around a line's ink box, fraction of the line height
    min_crop_height: int = 48  # smaller crops are upscaled to this height before recognition
    stray_text: Literal["off", "warn", "fail"] = "warn"  # text found outside the copy and the product
    stray_min_chars: int = 2  # shorter stray reads are treated as noise
    stray_min_score: float = 0.5  # and so are reads the recogniser is less sure of
    stray_scan_px: int = 768  # longest side the stray-text detector looks at (0 = the engine's default)


class SubjectThresholds(_S):
    tolerance: int = 16  # max per-channel difference for an output pixel to count as the product's
    iou_fail: float = 0.95
    iou_warn: float = 0.99
    psnr_fail: float = 30.0
    psnr_warn: float = 38.0
    ssim_fail: float = 0.90
    ssim_warn: float = 0.98
    confidence_warn: float = 0.7  # mask confidence (ecomctl.subject.confidence) below this warns
    confidence_fail: float = 0.3  # and below this fails: the mask is most likely not the product


class LayoutThresholds(_S):
    overlap_warn: float = 0.02  # share of a line's ink box that lies on the product
    overlap_fail: float = 0.10
    margin_warn: float = 0.02  # distance of copy to the canvas edge, fraction of the short side
    contrast_warn: float = 4.5  # WCAG ratio text colour vs measured local background
    contrast_fail: float = 3.0


class ImageThresholds(_S):
    flat_std: float = 2.0  # grey-level standard deviation below this: blank/flat image, fails
    dominant_share: float = 0.98  # one colour covering this share of the canvas: blank, fails
    mode: str = "RGB"


class VariantThresholds(_S):
    enabled: bool = True
    palette_delta_e: float = 6.0  # variants of a SKU whose palettes are closer than this look alike
    phash_distance: int = 6  # perceptual-hash Hamming distance at or below this: near-duplicates
    status: Literal["warn", "fail"] = "warn"


class StyleThresholds(_S):
    enabled: bool = True  # campaign posters get a style.campaign score (learned style embedding, qa/style.py)
    campaign_warn: float = 0.80  # cosine to the campaign reference below this: the poster is off the look


class ReportSettings(_S):
    thumb_px: int = 160  # longest side of the JPEG thumbnails inlined into report.html
    thumb_quality: int = 70
    max_thumbs: int = 2000  # beyond this many items, rows link to their image without an inline thumbnail
    max_rows: int = 5000  # report.html lists every non-pass item, and passes up to this many rows in all


class QAThresholds(_S):
    text: TextThresholds = TextThresholds()
    subject: SubjectThresholds = SubjectThresholds()
    layout: LayoutThresholds = LayoutThresholds()
    image: ImageThresholds = ImageThresholds()
    variants: VariantThresholds = VariantThresholds()
    style: StyleThresholds = StyleThresholds()
    report: ReportSettings = ReportSettings()

    @model_validator(mode="after")
    def _ordered(self) -> QAThresholds:
        pairs = [("text.line_ned", self.text.line_ned_fail, self.text.line_ned_warn),
                 ("subject.iou", self.subject.iou_fail, self.subject.iou_warn),
                 ("subject.psnr", self.subject.psnr_fail, self.subject.psnr_warn),
                 ("subject.ssim", self.subject.ssim_fail, self.subject.ssim_warn),
                 ("subject.confidence", self.subject.confidence_fail, self.subject.confidence_warn),
                 ("layout.contrast", self.layout.contrast_fail, self.layout.contrast_warn),
                 ("layout.overlap", self.layout.overlap_warn, self.layout.overlap_fail)]
        for name, lo, hi in pairs:
            if lo > hi:
                raise ValueError(f"{name}: the fail/warn thresholds are in the wrong order ({lo} > {hi})")
        return self


def thresholds(cfg: Config | dict[str, Any] | None) -> QAThresholds:
    """Typed thresholds of a Config (its `qa:` section, validated once per Config) or of a plain dict."""
    if isinstance(cfg, Config):
        return cfg.typed("qa", QAThresholds)
    return validate_section(QAThresholds, dict(cfg or {}), "qa")


def grade(value: float | None, warn: float, fail: float, higher_is_better: bool = True) -> Status:
    """pass / warn / fail for a measurement against its two thresholds (None = not measurable → warn)."""
    if value is None:
        return "warn"
    if higher_is_better:
        return "fail" if value < fail else "warn" if value < warn else "pass"
    return "fail" if value > fail else "warn" if value > warn else "pass"


def worst(statuses: list[Status]) -> Status:
    order = {"pass": 0, "warn": 1, "fail": 2}
    return max(statuses, key=order.__getitem__, default="pass")
