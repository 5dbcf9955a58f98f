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
            lines.append(strip_bullet(gray, OcrLine(ln.text.strip(), float(ln.score), tighten_box(gray, box))))
    return sorted(lines, key=lambda ln: (ln.box.y0 // 8, ln.box.x0))


BULLETS = "•·●○◦▪■□◆◇►▶▸‣⁃∙⋅・"  # what a recogniser makes of a list bullet or a price tag's punched hole


def is_ornament(text: str) -> bool:
    """A line read as bullets only ('●'): a list bullet or a tag's hole, ink on the poster but not copy."""
    return all(c in BULLETS or c.isspace() for c in text)


def strip_bullet(gray: np.ndarray, ln: OcrLine) -> OcrLine:
    """'• 24小时锁水' / '·¥328' (a bullet or a tag's hole read with the line): the text without it, the box
    from the line's second ink blob on when the first one is bullet-sized and set apart by a gap."""
    rest = ln.text.lstrip(BULLETS + " \t")
    if rest == ln.text or not rest:
        return ln
    box = ln.box
    crop = gray[box.y0:box.y1, box.x0:box.x1]
    if crop.size >= 16:
        _, binary = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        border = np.concatenate([binary[0], binary[-1], binary[:, 0], binary[:, -1]])
        cols = (binary != (1 if border.mean() >= 0.5 else 0)).any(axis=0).astype(np.int8)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], cols, [0]])))
        starts, ends = edges[::2], edges[1::2]
        if len(starts) >= 2 and ends[0] - starts[0] <= 0.8 * box.h and starts[1] - ends[0] >= 2:
            box = Box(box.x0 + int(starts[1]), box.y0, box.x1, box.y1)
    return OcrLine(rest, ln.score, box)


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


STRIKE_RUN = 0.95  # a strike is one unbroken ink run across at least this share of the line's box
STRIKE_BAND = (0.3, 0.7)  # … in this band of the line's height (the typesetter strikes at the middle)
REREAD_MIN_SCORE = 0.5  # a struck line's re-read (strike painted out) replaces the first read from this score


def unstrike(image: Image.Image, lines: list[OcrLine],
             ocr_section: dict[str, Any] | None = None) -> tuple[list[OcrLine], frozenset[int]]:
    """(lines, indices of the struck ones): a line crossed by a thin unbroken horizontal rule through its
    middle (a struck-through list price) is read again with the rule painted out — the recogniser misreads
    a struck price ('¥398' as '86E夫') — and kept as its text; the strike is decoration, not copy."""
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    out, struck = list(lines), set()
    for n, ln in enumerate(lines):
        found = strike_rows(gray, ln.box)
        if found is None:
            continue
        region, (r0, r1) = found
        x0, y0, x1, y1 = region
        crop = rgb[y0:y1, x0:x1].copy()
        hole = np.zeros(crop.shape[:2], np.uint8)
        hole[max(0, r0 - 1):r1 + 1] = 255
        clean = cv2.inpaint(crop, hole, 3, cv2.INPAINT_TELEA)
        (read,) = get_ocr(ocr_section).recognize([clean])
        struck.add(n)
        if read.text.strip() and read.score >= REREAD_MIN_SCORE:  # the clean crop is the better evidence
            out[n] = OcrLine(read.text.strip(), float(read.score), ln.box)
    return out, frozenset(struck)


def strike_rows(gray: np.ndarray, box: Box) -> tuple[tuple[int, int, int, int], tuple[int, int]] | None:
    """(the region looked at, its rows [r0, r1) of the strike) when one unbroken ink rule, at most
    max(2, 15%) of the line's height thick, crosses the line's box through its middle band with no full row
    just above or below it (a plate's edge or a filled shape is no strike); else None."""
    pad = max(2, box.h // 4)
    x0, x1 = max(0, box.x0 - pad), min(gray.shape[1], box.x1 + pad)
    y0, y1 = max(0, box.y0 - pad), min(gray.shape[0], box.y1 + pad)
    crop = gray[y0:y1, x0:x1].astype(np.int16)
    if crop.shape[0] < 6 or crop.shape[1] < 6:
        return None
    ink = np.abs(crop - np.median(np.concatenate([crop[0], crop[-1]]))) > 40
    inner = ink[:, box.x0 - x0:box.x1 - x0]
    full = np.array([_longest_run(row) >= STRIKE_RUN * inner.shape[1] for row in inner])
    top = box.y0 - y0
    band = [r for r in range(top + int(STRIKE_BAND[0] * box.h), top + int(np.ceil(STRIKE_BAND[1] * box.h)))
            if r < len(full) and full[r]]
    if not band:
        return None
    r0, r1 = band[0], band[-1] + 1
    thick = max(2, round(0.15 * box.h))
    if r1 - r0 > thick or not full[r0:r1].all():
        return None
    near = [r for r in (r0 - 2, r0 - 3, r1 + 1, r1 + 2) if 0 <= r < len(full)]
    if any(_longest_run(inner[r]) >= 0.6 * inner.shape[1] for r in near):
        return None
    return (x0, y0, x1, y1), (r0, r1)


def _longest_run(row: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D bool array."""
    if not row.any():
        return 0
    padded = np.concatenate([[0], row.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())
