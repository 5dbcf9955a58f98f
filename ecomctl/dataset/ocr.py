"""OCR for found posters: the configured engine (ecomctl.text.ocr) + boxes tightened to the ink."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image

from ecomctl.text.ocr import OcrLine, get_ocr
from ecomctl.types import Box, Size


def read_lines(image: Image.Image, ocr_section: dict[str, Any] | None = None) -> list[OcrLine]:
    """Every text line found in `image`, top to bottom then left to right."""
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    size = Size(rgb.shape[1], rgb.shape[0])
    lines = []
    for ln in get_ocr(ocr_section).read(rgb):
        box = ln.box.clip(size)
        if box.area and ln.text.strip():
            lines.append(OcrLine(ln.text.strip(), float(ln.score), tighten_box(gray, box)))
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
