"""One source item → one sample: conditions → filters → normalise → glyphs → image files + a record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl.dataset.hygiene import detect_lang, drop_detail, drop_reason, normalise, phash, subject_area
from ecomctl.dataset.items import Conditions, Placement, SourceItem
from ecomctl.dataset.settings import DatasetSettings
from ecomctl.errors import EcomctlError, ExtractionError
from ecomctl.subject.mask import mask_bbox
from ecomctl.text.glyph import GlyphRender, render_glyphs

IMAGE_KINDS = ("poster", "subject", "mask", "style", "glyph")  # all share the normalised canvas size
RECORDS = "records"


def record_path(corpus: Path, sample_id: str) -> Path:
    return corpus / RECORDS / f"{sample_id}.json"


def process_item(item: SourceItem, s: DatasetSettings, corpus: Path) -> dict[str, Any]:
    """Build one sample; never raises: errors become a record with status 'error'."""
    rec: dict[str, Any] = {"id": item.id, "sku": item.sku, "group": item.group, "source": item.kind,
                           "src": str(item.path), "fingerprint": item.fingerprint(),
                           "settings": s.fingerprint()}
    try:
        rec.update(_build(item, s, corpus))
    except EcomctlError as e:
        rec.update(status="error", error=str(e))
    except Exception as e:  # noqa: BLE001 — one bad poster must not stop the build; the record keeps the reason
        rec.update(status="error", error=f"{type(e).__name__}: {e}")
    write_json_atomic(record_path(corpus, item.id), rec)
    return rec


def conditions_for(item: SourceItem, s: DatasetSettings) -> Conditions:
    if item.kind == "render":
        from ecomctl.dataset.from_render import render_conditions

        return render_conditions(item, s)
    from ecomctl.dataset.from_posters import poster_conditions

    return poster_conditions(item, s)


def _build(item: SourceItem, s: DatasetSettings, corpus: Path) -> dict[str, Any]:
    try:
        cond = conditions_for(item, s)
    except ExtractionError as e:  # no product found on a found poster: not a sample, and say why
        return {"status": "dropped", "reason": "no_subject", "detail": str(e)}
    reason = drop_reason(cond, cond.poster.size, s)
    if reason:
        return {"status": "dropped", "reason": reason, "detail": drop_detail(cond, reason)}
    cond, placement = normalise(cond, s.size)
    glyphs = render_glyphs(cond.layout)
    paths = _write_images(corpus, item.id, cond, glyphs, s.png_compress)
    return {"status": "ok", **paths, **_describe(cond, placement, glyphs)}


def _write_images(corpus: Path, sample_id: str, cond: Conditions, glyphs: GlyphRender,
                  compress: int) -> dict[str, Any]:
    poster = np.asarray(cond.poster)
    keep = (cond.subject_mask > 127)[:, :, None]
    images = {
        "poster": cond.poster,
        "subject": Image.fromarray(np.where(keep, poster, 0).astype(np.uint8), "RGB"),
        "mask": Image.fromarray(cond.subject_mask, "L"),
        "style": cond.style,
        "glyph": glyphs.image,
        "glyph_crops": glyphs.atlas(),
        "logo": logo_image(cond),
    }
    paths: dict[str, Any] = {}
    for kind, image in images.items():
        if image is None:
            paths[kind] = None
            continue
        rel = f"images/{kind}/{sample_id}.png"
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        image.save(corpus / rel, compress_level=compress)
        paths[kind] = rel
    return paths


def logo_image(cond: Conditions) -> Image.Image | None:
    """The brand logo as drawn (RGBA: its alpha is its mask), at its box's size on the normalised canvas."""
    box = cond.layout.logo
    if cond.logo is None or box is None:
        return None
    logo = cond.logo.convert("RGBA")
    return logo if logo.size == (box.w, box.h) else logo.resize((box.w, box.h), Image.Resampling.LANCZOS)


def struck(cond: Conditions, n: int) -> bool:
    """Line `n` is drawn struck through: a render's list price, or a found line OCR saw a strike across. The
    glyph condition holds its text only."""
    return cond.layout.lines[n].role == "list_price" or n in cond.struck


def _describe(cond: Conditions, pl: Placement, glyphs: GlyphRender) -> dict[str, Any]:
    lines = cond.layout.lines
    scores = cond.line_scores or (1.0,) * len(lines)
    text = "\n".join(ln.text for ln in lines)
    return {
        "width": cond.poster.width, "height": cond.poster.height,
        "orig_width": pl.orig_w, "orig_height": pl.orig_h, "scale": pl.scale, "pad": list(pl.pad),
        "prompt": cond.prompt, "lang": detect_lang(text), "text": text,
        "lines": [{"text": ln.text, "role": ln.role, "box": ln.box.as_list(), "font_size": ln.font_size,
                   "weight": ln.weight, "score": float(sc), "block": ln.block, "struck": struck(cond, n)}
                  for n, (ln, sc) in enumerate(zip(lines, scores))],
        "glyphs": [g.as_dict() for g in glyphs.glyphs],
        "n_lines": len(lines), "n_glyphs": len(glyphs.glyphs),
        "subject_bbox": mask_bbox(cond.subject_mask).as_list(),
        "subject_area": subject_area(cond.subject_mask), "subject_method": cond.subject_method,
        "subject_confidence": cond.subject_confidence,
        "style_from": cond.style_from, "phash": phash(cond.poster), "style_phash": phash(cond.style),
        "notes": list(cond.notes),
        "logo_box": cond.layout.logo.as_list() if cond.layout.logo is not None and cond.logo is not None else None,
        "template": cond.layout.template, "dropped": list(cond.layout.dropped),
        "qa_status": cond.qa_status, "qa_flags": list(cond.qa_flags), "layout_metrics": cond.layout_metrics,
    }


def write_json_atomic(path: Path, data: Any) -> None:
    from ecomctl.store.files import atomic_write_text

    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))
