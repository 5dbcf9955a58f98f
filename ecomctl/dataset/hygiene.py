"""Corpus hygiene: resolution normalisation (letterbox), perceptual-hash de-dup, filters, language tag."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from ecomctl.dataset.items import Conditions, Placement
from ecomctl.dataset.settings import DatasetSettings
from ecomctl.types import Box, Layout, Size


def placement_for(w: int, h: int, side: int) -> Placement:
    scale = min(side / w, side / h)
    nw, nh = round(w * scale), round(h * scale)
    left, top = (side - nw) // 2, (side - nh) // 2
    return Placement(w, h, scale, (left, top, side - nw - left, side - nh - top))


def normalise(cond: Conditions, side: int) -> tuple[Conditions, Placement]:
    """Scale every condition into a side×side canvas, aspect kept, black padding; boxes follow."""
    w, h = cond.poster.size
    pl = placement_for(w, h, side)
    if pl.scale == 1.0 and pl.pad == (0, 0, 0, 0):
        return cond, pl
    mask = Image.fromarray(cond.subject_mask, "L")
    return dataclasses.replace(
        cond,
        poster=_letterbox(cond.poster, pl),
        style=_letterbox(cond.style, pl),
        subject_mask=np.asarray(_letterbox(mask, pl)),
        layout=_scale_layout(cond.layout, pl, side),
    ), pl


def _letterbox(image: Image.Image, pl: Placement) -> Image.Image:
    nw, nh = round(pl.orig_w * pl.scale), round(pl.orig_h * pl.scale)
    out = Image.new(image.mode, pl.size, 0)
    out.paste(image.resize((nw, nh), Image.Resampling.BILINEAR), (pl.pad[0], pl.pad[1]))
    return out


def map_box(box: Box, pl: Placement) -> Box:
    s, (dx, dy) = pl.scale, pl.pad[:2]
    return Box(int(np.floor(box.x0 * s)) + dx, int(np.floor(box.y0 * s)) + dy,
               int(np.ceil(box.x1 * s)) + dx, int(np.ceil(box.y1 * s)) + dy)


def _scale_layout(layout: Layout, pl: Placement, side: int) -> Layout:
    lines = tuple(dataclasses.replace(ln, box=map_box(ln.box, pl), font_size=max(1, round(ln.font_size * pl.scale)))
                  for ln in layout.lines)
    plates = tuple(dataclasses.replace(p, box=map_box(p.box, pl)) for p in layout.plates)
    logo = map_box(layout.logo, pl) if layout.logo is not None else None
    return dataclasses.replace(layout, canvas=Size(side, side), subject_box=map_box(layout.subject_box, pl),
                               lines=lines, plates=plates, logo=logo)


def phash(image: Image.Image) -> str:
    import imagehash

    # 256-bit hash: posters sharing a template and palette but not their copy stay apart (64 bits merge them)
    return str(imagehash.phash(image, hash_size=16))


def duplicates(hashes: list[str], max_distance: int) -> list[int | None]:
    """For each hash, the index of an earlier kept hash within `max_distance` bits (None = keep)."""
    bits = np.array([np.unpackbits(np.frombuffer(bytes.fromhex(h), np.uint8)) for h in hashes], bool)
    out: list[int | None] = [None] * len(hashes)
    kept: list[int] = []
    for i in range(len(hashes)):
        if kept:
            dist = (bits[kept] != bits[i]).sum(axis=1)
            j = int(dist.argmin())
            if dist[j] <= max_distance:
                out[i] = kept[j]
                continue
        kept.append(i)
    return out


QA_RANK = {"pass": 0, "warn": 1, "fail": 2}


def drop_reason(cond: Conditions, orig: tuple[int, int], s: DatasetSettings) -> str | None:
    """The first filter a sample fails (the source's own `suspect` reason, qa_warn / qa_fail, mask_confidence,
    min_size, no_text, ocr_confidence, subject_area), or None."""
    if cond.suspect:
        return cond.suspect
    if cond.qa_status in QA_RANK and QA_RANK[cond.qa_status] > QA_RANK[s.qa_keep]:
        return f"qa_{cond.qa_status}"  # a render QA would not publish is not a poster to learn from
    if cond.subject_confidence is not None and cond.subject_confidence < s.min_mask_conf:
        return "mask_confidence"
    if min(orig) < s.min_size:
        return "min_size"
    if s.require_text and not cond.layout.lines:
        return "no_text"
    if cond.line_scores and float(np.mean(cond.line_scores)) < s.min_ocr_conf:
        return "ocr_confidence"
    area = subject_area(cond.subject_mask)
    if not s.subject_area[0] <= area <= s.subject_area[1]:
        return "subject_area"
    return None


def drop_detail(cond: Conditions, reason: str) -> str:
    """One line saying why this sample was dropped (stats.json, datasheet)."""
    if reason == "mask_confidence":
        why = f" ({cond.subject_confidence_why})" if cond.subject_confidence_why else ""
        return f"{cond.subject_method} mask confidence {cond.subject_confidence:.2f}{why}"
    if reason.startswith("qa_"):
        return f"QA {cond.qa_status}: {', '.join(cond.qa_flags) or 'no check named'}"
    if reason == "subject_area":
        return f"subject covers {subject_area(cond.subject_mask):.1%} of the poster"
    if reason == "ocr_confidence" and cond.line_scores:
        return f"mean OCR confidence {float(np.mean(cond.line_scores)):.2f}"
    return reason


def subject_area(mask: np.ndarray) -> float:
    return float((mask > 127).mean())


def detect_lang(text: str) -> str:
    """zh / en / mixed / none: which scripts the copy uses (a script counts from 2 characters on)."""
    cjk = sum(1 for c in text if "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    has_zh, has_en = cjk >= 2, latin >= 2
    return "mixed" if has_zh and has_en else "zh" if has_zh else "en" if has_en else "none"
