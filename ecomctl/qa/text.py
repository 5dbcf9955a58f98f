"""QA text checks: OCR of each typeset line's crop vs the manifest copy, and a full-image stray-text pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ecomctl.outcome import worst
from ecomctl.qa.metrics import exact, ned
from ecomctl.qa.registry import Sample, status
from ecomctl.qa.thresholds import TextThresholds
from ecomctl.text.ocr import OcrEngine
from ecomctl.types import Box, Check, Poster, Size, TextLine


def line_labels(lines: Sequence[TextLine]) -> list[str]:
    """Human names of lines, numbered within their role: "title line 1", "title line 2", "price line 1"."""
    seen: dict[str, int] = {}
    labels = []
    for line in lines:
        seen[line.role] = seen.get(line.role, 0) + 1
        labels.append(f"{line.role} line {seen[line.role]}")
    return labels


def crop_line(rgb: np.ndarray, box: Box, pad: float, min_height: int) -> np.ndarray:
    """The line's ink box padded by `pad` × its height, upscaled (cubic) when shorter than `min_height`."""
    h, w = rgb.shape[:2]
    b = box.expand(max(2, round(box.h * pad))).clip(Size(w, h))
    crop = rgb[b.y0:b.y1, b.x0:b.x1]
    if crop.size == 0:
        return np.full((min_height, min_height, 3), 255, np.uint8)
    if crop.shape[0] < min_height:
        f = min_height / crop.shape[0]
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * f)), min_height), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)


def short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def read_lines(rgb: np.ndarray, lines: Sequence[TextLine], t: TextThresholds, ocr: OcrEngine) -> list[dict[str, Any]]:
    """Per line: label, expected text, what OCR read, NED and exact match (one batched recognition call)."""
    crops = [crop_line(rgb, line.box, t.pad, t.min_crop_height) for line in lines]
    reads = ocr.recognize(crops)
    return [
        {"label": label, "role": line.role, "text": line.text, "read": r.text, "score": round(r.score, 4),
         "ned": round(ned(r.text, line.text), 4), "exact": exact(r.text, line.text), "box": line.box.as_list()}
        for label, line, r in zip(line_labels(lines), lines, reads)
    ]


def line_checks(per_line: list[dict[str, Any]], t: TextThresholds) -> list[Check]:
    """text.ned (mean; the worst line decides) and text.sen_acc (share of exact lines)."""
    if not per_line:
        return [Check("text.ned", None, "pass"), Check("text.sen_acc", None, "pass")]
    verdicts = [status("text.ned", d["ned"], t) for d in per_line]
    bad = [f'{d["label"]} "{short(d["text"])}" read as "{short(d["read"])}" (NED {d["ned"]:.2f})'
           for d, v in zip(per_line, verdicts) if v != "pass"]
    mean_ned = float(np.mean([d["ned"] for d in per_line]))
    sen_acc = float(np.mean([d["exact"] for d in per_line]))
    acc_status = status("text.sen_acc", sen_acc, t)
    acc_reason = f"Sen.Acc {sen_acc:.2f} < {t.min_sen_acc:.2f}" if acc_status != "pass" else ""
    return [Check("text.ned", round(mean_ned, 4), worst(verdicts), "; ".join(bad)),
            Check("text.sen_acc", round(sen_acc, 4), acc_status, acc_reason)]


def allowed_region(poster: Poster, t: TextThresholds) -> np.ndarray:
    """Where text is expected: the typeset lines (padded), the logo and the product (its own print is fine)."""
    w, h = poster.image.size
    mask = poster.subject_mask if poster.subject_mask.shape[:2] == (h, w) else np.zeros((h, w), np.uint8)
    allowed = cv2.dilate((mask > 0).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    for line in poster.layout.lines:
        b = line.box.expand(max(4, round(line.box.h * t.pad * 2))).clip(Size(w, h))
        allowed[b.y0:b.y1, b.x0:b.x1] = True
    if poster.layout.logo is not None:  # a wordmark's letters are the brand's, not stray text
        b = poster.layout.logo.expand(max(4, round(poster.layout.logo.h * 0.3))).clip(Size(w, h))
        allowed[b.y0:b.y1, b.x0:b.x1] = True
    return allowed


def stray_text(rgb: np.ndarray, allowed: np.ndarray, t: TextThresholds, ocr: OcrEngine) -> list[dict[str, Any]]:
    """Text detected outside the allowed region: detection on the whole image, recognition on leftovers."""
    h, w = rgb.shape[:2]
    boxes = [b.clip(Size(w, h)) for b in ocr.detect(rgb, t.stray_scan_px or None)]
    boxes = [b for b in boxes if b.area > 0 and allowed[b.y0:b.y1, b.x0:b.x1].mean() < 0.5]
    reads = ocr.recognize([crop_line(rgb, b, 0.0, t.min_crop_height) for b in boxes])
    return [{"text": r.text, "score": round(r.score, 4), "box": b.as_list()}
            for b, r in zip(boxes, reads) if len(r.text.strip()) >= t.stray_min_chars and r.score >= t.stray_min_score]


def stray_check(found: list[dict[str, Any]], t: TextThresholds) -> Check:
    if not found:
        return Check("text.stray", 0.0, "pass")
    what = "; ".join(f'"{short(d["text"], 24)}" at {d["box"]}' for d in found[:5])
    more = f" (+{len(found) - 5} more)" if len(found) > 5 else ""
    return Check("text.stray", float(len(found)), t.stray_text, f"unexpected text {what}{more}")  # type: ignore[arg-type]


def measure_text(s: Sample) -> tuple[list[Check], dict[str, Any]]:
    """The measurer ecomctl/qa/registry.py names: the copy read back and the stray-text scan."""
    from ecomctl.qa.grade import ocr_settings
    from ecomctl.text.ocr import get_ocr

    return check_text(s.poster, s.t.text, get_ocr(ocr_settings(s.cfg)), s.rgb)


def check_text(poster: Poster, t: TextThresholds, ocr: OcrEngine, rgb: np.ndarray | None = None
               ) -> tuple[list[Check], dict[str, Any]]:
    rgb = np.asarray(poster.image.convert("RGB")) if rgb is None else rgb
    per_line = read_lines(rgb, poster.layout.lines, t, ocr)
    checks = line_checks(per_line, t)
    details: dict[str, Any] = {"lines": per_line}
    if t.stray_text != "off":
        scan = scene_draws_text(poster)
        found = stray_text(rgb, allowed_region(poster, t), t, ocr) if scan else []
        checks.append(stray_check(found, t))
        details["stray"] = found
        if not scan:
            details["stray_scan"] = "skipped: the backend draws no text"
    return checks, details


def scene_draws_text(poster: Poster) -> bool:
    """Whether the backend that made the scene could have drawn text (diffusion models can; the compose
    backend's gradients, shapes and blurred reference images cannot). Unknown backends are scanned."""
    backend = (poster.meta or {}).get("backend") or {}
    return not isinstance(backend, dict) or backend.get("draws_text", True) is not False
