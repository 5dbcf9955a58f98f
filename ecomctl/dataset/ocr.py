"""OCR for found posters: text lines with boxes and confidence (det + rec), one engine per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ecomctl.errors import BackendUnavailable
from ecomctl.types import Box, Size


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box  # axis-aligned, tightened to the ink where the crop allows it
    score: float


@functools.lru_cache(maxsize=1)
def _engine():
    # TODO(ocr registry): switch to ecomctl.text.ocr once the QA engineer's engine registry lands
    try:
        from rapidocr import RapidOCR
    except ImportError:
        raise BackendUnavailable("OCR needs rapidocr: pip install rapidocr onnxruntime") from None
    return RapidOCR(params={"Global.log_level": "error",
                            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                            "EngineConfig.onnxruntime.inter_op_num_threads": 1})


def read_lines(image: Image.Image) -> list[OcrLine]:
    """Every text line found in `image`, top to bottom then left to right."""
    rgb = np.asarray(image.convert("RGB"))
    out = _engine()(rgb[:, :, ::-1].copy())
    if out.boxes is None or out.txts is None:
        return []
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    lines = []
    for quad, text, score in zip(out.boxes, out.txts, out.scores):
        xs, ys = np.asarray(quad)[:, 0], np.asarray(quad)[:, 1]
        box = Box(int(np.floor(xs.min())), int(np.floor(ys.min())), int(np.ceil(xs.max())), int(np.ceil(ys.max())))
        box = box.clip(Size(gray.shape[1], gray.shape[0]))
        if box.area and text.strip():
            lines.append(OcrLine(text.strip(), tighten_box(gray, box), float(score)))
    return sorted(lines, key=lambda ln: (ln.box.y0 // 8, ln.box.x0))


def tighten_box(gray: np.ndarray, box: Box) -> Box:
    """Shrink a detector box (padded by design) to the ink: Otsu split, ink = the class off the border."""
    crop = gray[box.y0:box.y1, box.x0:box.x1]
    if crop.size < 16:
        return box
    _, binary = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([binary[0], binary[-1], binary[:, 0], binary[:, -1]])
    ink = binary != (1 if border.mean() >= 0.5 else 0)
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return box
    tight = Box(box.x0 + int(xs.min()), box.y0 + int(ys.min()), box.x0 + int(xs.max()) + 1,
                box.y0 + int(ys.max()) + 1)
    # a textured background can fool Otsu; only trust a modest shrink
    if tight.w < 0.7 * box.w or tight.h < 0.5 * box.h:
        return box
    return tight

