"""Optional OCR engine: PaddleOCR 3 (extra `paddle`); its models download on first use, so offline it is unavailable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ecomctl.errors import BackendUnavailable
from ecomctl.text.ocr import OCR_ENGINES, OcrLine, OcrSettings, OcrText, quad_to_box
from ecomctl.types import Box

_HOWTO = "pip install 'ecomctl[paddle]' and let it fetch its models once (or set ocr.engine: rapidocr)"


class PaddleOcrEngine:
    name = "paddleocr"

    def __init__(self, settings: OcrSettings):
        self.settings = settings
        self._pipeline: Any = None
        self._rec: Any = None

    def unavailable(self) -> str | None:
        try:
            import paddleocr
        except ImportError:
            return f"paddleocr is not installed: {_HOWTO}"
        if not hasattr(paddleocr, "TextRecognition"):
            return f"paddleocr >= 3 is required (found {getattr(paddleocr, '__version__', '?')}): {_HOWTO}"
        return None

    def _load(self, what: str) -> Any:
        """Build a paddleocr model; a failure (usually: models cannot be downloaded) is BackendUnavailable."""
        import paddleocr

        opts = dict(self.settings.paddleocr)
        try:
            if what == "rec":
                return paddleocr.TextRecognition(**opts)
            return paddleocr.PaddleOCR(use_doc_orientation_classify=False, use_doc_unwarping=False,
                                       use_textline_orientation=False, **opts)
        except Exception as e:  # noqa: BLE001 — paddle raises many kinds when its model hub is unreachable
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BackendUnavailable(f"OCR engine 'paddleocr' cannot load its models ({first}): {_HOWTO}") from None

    def recognize(self, crops: Sequence[np.ndarray]) -> list[OcrText]:
        if not crops:
            return []
        if self._rec is None:
            self._rec = self._load("rec")
        results = self._rec.predict([np.ascontiguousarray(c[:, :, ::-1]) for c in crops])
        return [OcrText(str(r["rec_text"]), float(r["rec_score"])) for r in results]

    def read(self, image: np.ndarray) -> list[OcrLine]:
        if self._pipeline is None:
            self._pipeline = self._load("pipeline")
        lines: list[OcrLine] = []
        for res in self._pipeline.predict(np.ascontiguousarray(image[:, :, ::-1])):
            for text, score, poly in zip(res["rec_texts"], res["rec_scores"], res["rec_polys"]):
                if float(score) >= self.settings.min_score:
                    lines.append(OcrLine(str(text), float(score), quad_to_box(poly)))
        return lines

    def detect(self, image: np.ndarray, max_side: int | None = None) -> list[Box]:
        return [line.box for line in self.read(image)]  # the pipeline picks its own detection scale


OCR_ENGINES.add("paddleocr", PaddleOcrEngine)
