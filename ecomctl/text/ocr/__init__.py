"""OCR engines for QA and eval: registry, typed results and one engine instance per process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from ecomctl.config import validate_section
from ecomctl.errors import BackendUnavailable
from ecomctl.registry import Registry
from ecomctl.types import Box


@dataclass(frozen=True)
class OcrText:
    """What a recogniser read from one crop."""

    text: str
    score: float


@dataclass(frozen=True)
class OcrLine:
    """One text line found in a whole image: its text, confidence and axis-aligned box."""

    text: str
    score: float
    box: Box


class OcrEngine(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """None when usable; otherwise one line naming what is missing and how to get it."""

    def recognize(self, crops: Sequence[np.ndarray]) -> list[OcrText]:
        """Read one line of text from each RGB uint8 crop (batched; no detection)."""

    def detect(self, image: np.ndarray, max_side: int | None = None) -> list[Box]:
        """Boxes of the text lines in an RGB uint8 image (detection only, no recognition); with `max_side`
        the detector sees the image scaled down to at most that longest side (boxes in image pixels)."""

    def read(self, image: np.ndarray) -> list[OcrLine]:
        """Detect and recognise every text line of an RGB uint8 image."""


class OcrSettings(BaseModel):
    """The `ocr:` config section."""

    model_config = ConfigDict(extra="forbid")
    engine: str = "rapidocr"
    threads: int = 0  # onnxruntime intra-op threads; 0 = the runtime's default (all cores)
    min_score: float = 0.5  # full-image lines below this confidence are dropped
    rapidocr: dict[str, Any] = {}
    paddleocr: dict[str, Any] = {}


# name → factory(settings: OcrSettings)
OCR_ENGINES: Registry[Callable[[OcrSettings], OcrEngine]] = Registry("OCR engine")
_CACHE: dict[str, OcrEngine] = {}


def ocr_settings(section: dict[str, Any] | None) -> OcrSettings:
    return validate_section(OcrSettings, section, "ocr")


def get_ocr(section: OcrSettings | dict[str, Any] | None = None) -> OcrEngine:
    """The configured engine, loaded once per process (models are reused by every poster); `section` is
    the typed settings a command resolved once, or a raw `ocr:` dict. With no section (a caller that just
    needs *an* OCR, e.g. the saliency extractor's copy filter) the engine this process already runs is
    returned: one engine per process, not one per caller."""
    if section is None and _CACHE:
        return next(iter(_CACHE.values()))
    _load_builtins()
    settings = section if isinstance(section, OcrSettings) else ocr_settings(section)
    factory = OCR_ENGINES.get(settings.engine)
    key = settings.model_dump_json()
    if key not in _CACHE:
        engine = factory(settings)
        why = engine.unavailable()
        if why:
            raise BackendUnavailable(f"OCR engine {settings.engine!r} unavailable: {why}")
        _CACHE[key] = engine
    return _CACHE[key]


def quad_to_box(quad: Any) -> Box:
    """Axis-aligned box around a detector polygon (list of [x, y] points)."""
    pts = np.asarray(quad, dtype=np.float32).reshape(-1, 2)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return Box(int(x0), int(y0), int(x1), int(y1))


def _load_builtins() -> None:
    from ecomctl.text.ocr import paddleocr, rapidocr  # noqa: F401
