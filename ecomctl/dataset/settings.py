"""Dataset build settings: config section `dataset` (+ CLI flags) → one frozen value shared by workers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ecomctl.config import check_keys
from ecomctl.errors import ConfigError

MAX_SIZE = 4096


@dataclass(frozen=True)
class DatasetSettings:
    size: int = 800  # normalised square side; aspect kept, padding recorded
    workers: int = 1
    bench_size: int = 300  # held-out samples when the corpus is large enough
    bench_fraction: float = 0.1  # cap for small corpora: bench ≤ ceil(fraction × samples)
    seed: int = 0
    min_size: int = 256  # shortest poster side before normalisation
    min_ocr_conf: float = 0.85  # mean OCR confidence of the kept lines of a found poster
    min_line_conf: float = 0.7  # OCR lines below this are ignored
    min_mask_conf: float = 0.7  # found posters whose subject mask confidence is below this are dropped
    qa_keep: str = "warn"  # the worst QA verdict of a render kept (pass | warn | fail); worse ones are dropped
    check_sheet: int = 12  # random samples shown in check_sheet.png beside the corpus (0 = none)
    subject_area: tuple[float, float] = (0.01, 0.9)  # subject mask area / canvas, inclusive bounds
    require_text: bool = True
    dedup_distance: int = 8  # 256-bit perceptual-hash Hamming distance at or below which posters are duplicates
    png_compress: int = 1  # zlib level of written PNGs: 1 encodes several times faster than 6, files ~20% larger
    shards: bool = False  # also write WebDataset tar shards
    shard_size: int = 500
    pair_siblings: bool = False  # style reference from a sibling of the same SKU group
    inpaint: str = "telea"  # telea | ns (OpenCV inpainting of text and subject for style images)
    inpaint_radius: int = 5
    subject_method: str = "auto"
    subject: dict[str, Any] = field(default_factory=dict)  # the `subject:` config section (extractor settings)
    subject_prompt: str = "product"
    metadata: str | None = None  # CSV beside a poster folder: file, sku, group, prompt, subject
    ocr: dict[str, Any] = field(default_factory=lambda: {"threads": 1})  # the `ocr:` config section

    def fingerprint(self) -> str:
        """Hash of the settings that change a sample's content (resume skips only unchanged ones)."""
        keep = {k: v for k, v in asdict(self).items() if k not in {"workers", "shards", "shard_size", "png_compress",
                                                                   "bench_size", "bench_fraction",
                                                                   "pair_siblings", "dedup_distance",
                                                                   "check_sheet"}}
        return hashlib.sha1(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]


def settings_from(section: dict[str, Any] | None = None, **overrides: Any) -> DatasetSettings:
    """Build settings from the config `dataset` section, then non-None overrides (CLI flags)."""
    values = {**(section or {}), **{k: v for k, v in overrides.items() if v is not None}}
    check_keys("dataset", values, {f.name for f in fields(DatasetSettings)})
    if "subject_area" in values:
        values["subject_area"] = tuple(float(v) for v in values["subject_area"])
    s = replace(DatasetSettings(), **values)
    if s.size < 32 or s.workers < 1 or not 0 <= s.bench_fraction <= 1 or s.inpaint not in ("telea", "ns"):
        raise ConfigError("config dataset: need size ≥ 32, workers ≥ 1, 0 ≤ bench_fraction ≤ 1, "
                          "inpaint telea|ns")
    if s.size > MAX_SIZE:  # every path to a canvas size is limited, like the manifest's 256..4096
        raise ConfigError(f"config dataset.size (--size): {s.size} is over the {MAX_SIZE} px limit")
    if s.qa_keep not in ("pass", "warn", "fail"):
        raise ConfigError(f"config dataset.qa_keep: {s.qa_keep!r} is not pass, warn or fail")
    if s.bench_size < 0:
        raise ConfigError(f"config dataset.bench_size (--bench): must be 0 or more, got {s.bench_size}")
    return s
