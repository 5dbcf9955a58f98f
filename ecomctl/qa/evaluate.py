"""`ecomctl eval`: score any poster set against expected copy (Sen.Acc / NED), AnyText-eval style.

expected.csv: one row per image. `file` (or `image`) relative to the images folder; the lines either in
a `lines` column separated by `|`, or one column per line (`line1`, `line2`, … or `text1`, …); optional
`boxes`: a JSON list of [x0, y0, x1, y1] ink boxes, one per line. With boxes each line is read from its
crop; without, the whole image is read and OCR lines are assigned to expected lines by best NED.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl.errors import ManifestError
from ecomctl.qa.metrics import exact, ned
from ecomctl.qa.text import crop_line
from ecomctl.text.ocr import OcrEngine, OcrLine
from ecomctl.types import Box

SCHEMA = "ecomctl.eval/1"
_LINE_COL = re.compile(r"^(line|text)_?(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Expected:
    file: str
    lines: tuple[str, ...]
    boxes: tuple[Box, ...] | None = None
    where: str = ""


@dataclass(frozen=True)
class LineScore:
    expected: str
    read: str
    ned: float
    exact: bool


@dataclass(frozen=True)
class ImageScore:
    file: str
    mode: str  # "crops" (boxes given) | "full" (full-image OCR, matched) | "error"
    lines: tuple[LineScore, ...]
    error: str | None = None

    @property
    def sen_acc(self) -> float:
        return float(np.mean([s.exact for s in self.lines])) if self.lines else 1.0

    @property
    def ned(self) -> float:
        return float(np.mean([s.ned for s in self.lines])) if self.lines else 1.0


@dataclass(frozen=True)
class EvalReport:
    images: tuple[ImageScore, ...]

    @property
    def all_lines(self) -> list[LineScore]:
        return [s for im in self.images for s in im.lines]

    @property
    def sen_acc(self) -> float:
        lines = self.all_lines
        return float(np.mean([s.exact for s in lines])) if lines else 1.0

    @property
    def ned(self) -> float:
        lines = self.all_lines
        return float(np.mean([s.ned for s in lines])) if lines else 1.0

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "sen_acc": round(self.sen_acc, 4), "ned": round(self.ned, 4),
                "images": len(self.images), "lines": len(self.all_lines),
                "items": [{"file": im.file, "mode": im.mode, "error": im.error, "sen_acc": round(im.sen_acc, 4),
                           "ned": round(im.ned, 4), "lines": [vars(s) for s in im.lines]} for im in self.images]}


def _row_lines(row: dict[str, str], where: str, problems: list[str]) -> tuple[str, ...]:
    if (row.get("lines") or "").strip():
        return tuple(s.strip() for s in row["lines"].split("|") if s.strip())
    numbered = sorted((int(m.group(2)), k) for k in row if k and (m := _LINE_COL.match(k.strip())))
    lines = tuple(row[k].strip() for _, k in numbered if (row[k] or "").strip())
    if not lines:
        problems.append(f"{where}:lines: no expected text (use a `lines` column with | or line1, line2 …)")
    return lines


def _row_boxes(raw: str, n: int, where: str, problems: list[str]) -> tuple[Box, ...] | None:
    if not raw.strip():
        return None
    try:
        boxes = tuple(Box.from_list(b) for b in json.loads(raw))
        if all(len(b) == 4 for b in json.loads(raw)) and len(boxes) == n:
            return boxes
        problems.append(f"{where}:boxes: {len(boxes)} boxes for {n} lines")
    except (ValueError, TypeError):
        problems.append(f"{where}:boxes: expected a JSON list of [x0, y0, x1, y1]")
    return None


def load_expected(path: Path) -> list[Expected]:
    """Parse expected.csv; every problem is reported as `file:row:column: message` (ManifestError)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ManifestError([f"{path}: cannot read expected copy: {e}"]) from None
    problems: list[str] = []
    out = []
    for i, row in enumerate(rows, start=2):
        where = f"{path}:{i}"
        file = (row.get("file") or row.get("image") or "").strip()
        if not file:
            problems.append(f"{where}:file: missing image file name")
        lines = _row_lines(row, where, problems)
        boxes = _row_boxes(row.get("boxes") or "", len(lines), where, problems)
        out.append(Expected(file, lines, boxes, where))
    if not rows:
        problems.append(f"{path}: no rows")
    if problems:
        raise ManifestError(problems)
    return out


def match_lines(expected: Sequence[str], found: Sequence[OcrLine]) -> list[str]:
    """For each expected line, the OCR text assigned to it (greedy by NED over single OCR lines and runs
    of OCR lines on one row joined left to right, each OCR line used once); "" when nothing is left."""
    found = sorted(found, key=lambda ln: (ln.box.center[1], ln.box.x0))
    candidates = [(frozenset([i]), ln.text) for i, ln in enumerate(found)] + _row_runs(found)
    pairs = sorted(((ned(text, exp), -len(ids), e, ids, text) for e, exp in enumerate(expected)
                    for ids, text in candidates), key=lambda p: (-p[0], -p[1], p[2]))
    reads: dict[int, str] = {}
    used: set[int] = set()
    for score, _, e, ids, text in pairs:
        if e not in reads and not (ids & used) and score > 0:
            reads[e] = text
            used |= ids
    return [reads.get(e, "") for e in range(len(expected))]


def _row_runs(found: Sequence[OcrLine], longest: int = 6) -> list[tuple[frozenset[int], str]]:
    """Runs of 2..`longest` OCR boxes on one text row (vertical overlap ≥ 50%), joined left to right."""
    runs: dict[frozenset[int], str] = {}
    for a in found:
        row = sorted((j for j, b in enumerate(found) if _same_row(a.box, b.box)), key=lambda j: found[j].box.x0)
        for s in range(len(row)):
            for e in range(s + 2, min(len(row), s + longest) + 1):
                runs[frozenset(row[s:e])] = " ".join(found[j].text for j in row[s:e])
    return list(runs.items())


def _same_row(a: Box, b: Box) -> bool:
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    return overlap >= 0.5 * min(a.h, b.h)


def score_image(rgb: np.ndarray, exp: Expected, ocr: OcrEngine) -> ImageScore:
    if exp.boxes is not None:
        reads = [r.text for r in ocr.recognize([crop_line(rgb, b, 0.2, 48) for b in exp.boxes])]
        mode = "crops"
    else:
        reads, mode = match_lines(exp.lines, ocr.read(rgb)), "full"
    lines = tuple(LineScore(e, r, round(ned(r, e), 4), exact(r, e)) for e, r in zip(exp.lines, reads))
    return ImageScore(exp.file, mode, lines)


def evaluate(images_dir: Path, expected: Sequence[Expected], ocr: OcrEngine) -> EvalReport:
    """Score every expected row; an unreadable image scores 0 on its lines and carries the error."""
    scores = []
    for exp in expected:
        try:
            with Image.open(Path(images_dir) / exp.file) as im:
                rgb = np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as e:
            missing = tuple(LineScore(t, "", 0.0, False) for t in exp.lines)
            scores.append(ImageScore(exp.file, "error", missing, f"{exp.where}: cannot read {exp.file}: {e}"))
            continue
        scores.append(score_image(rgb, exp, ocr))
    return EvalReport(tuple(scores))
