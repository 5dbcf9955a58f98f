"""Source 2 — a folder of existing posters (+ optional metadata CSV): conditions estimated by OCR,
subject extraction and inpainting."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ecomctl.dataset.items import Conditions, SourceItem
from ecomctl.dataset.ocr import is_ornament, read_lines, unstrike
from ecomctl.dataset.prompts import found_poster_prompt
from ecomctl.dataset.settings import DatasetSettings
from ecomctl.errors import ConfigError
from ecomctl.imaging import boxes_mask, grow_mask, inpaint
from ecomctl.io import IMAGE_SUFFIXES, open_image
from ecomctl.subject import extract_subject
from ecomctl.text.glyph import fit_font_size
from ecomctl.text.ocr import OcrLine
from ecomctl.types import Layout, Size, TextLine

METADATA_NAME = "metadata.csv"
MAX_LINE_HEIGHT = 0.25  # a "line" taller than this share of the poster is a detector false positive


def discover_posters(root: Path, metadata: Path | None = None, exclude: Path | None = None) -> list[SourceItem]:
    """Every image under `root` (sorted), with SKU / group / prompt / subject from the metadata CSV.

    `exclude` (the corpus folder, when it sits inside `root`) is skipped so a rebuild never eats its output.
    """
    meta_file = metadata or (root / METADATA_NAME if (root / METADATA_NAME).is_file() else None)
    meta = read_metadata(meta_file) if meta_file else {}
    skip = exclude.resolve() if exclude else None
    items = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        if skip and path.resolve().is_relative_to(skip):
            continue
        rel = path.relative_to(root).as_posix()
        row = meta.get(rel, {})
        sku = row.get("sku") or path.stem
        items.append(SourceItem(id=safe_id(str(Path(rel).with_suffix(""))), kind="poster", path=path, sku=sku,
                                group=row.get("group") or sku, prompt=row.get("prompt") or None,
                                subject=row.get("subject") or None))
    return items


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """file → row; `file` is relative to the poster folder."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = [h.strip() for h in reader.fieldnames or []]
    except OSError as e:
        raise ConfigError(f"{path}: cannot read metadata: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: metadata is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset "
                          f"{e.start}); save it as UTF-8") from None
    except csv.Error as e:
        raise ConfigError(f"{path}: cannot read metadata: {e}") from None
    twice = next((h for i, h in enumerate(header) if h and h in header[:i]), None)
    if twice:  # DictReader would silently keep the last one
        raise ConfigError(f"{path}:1: duplicate column {twice!r} (file, sku, group, prompt, subject)")
    if rows and "file" not in rows[0]:
        raise ConfigError(f"{path}:1: metadata needs a 'file' column (file, sku, group, prompt, subject)")
    return {Path(r["file"]).as_posix(): {k: (v or "").strip() for k, v in r.items() if k} for r in rows}


def safe_id(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "_", text.replace("/", "__")).strip("_") or "sample"


def poster_conditions(item: SourceItem, s: DatasetSettings) -> Conditions:
    """OCR the copy, remove it, find the product on the text-free poster, remove that too for the style."""
    poster = open_image(item.path).convert("RGB")  # upright by EXIF; a corrupt file is this item's error
    found, struck_at = unstrike(poster, read_lines(poster, s.ocr), s.ocr)
    struck_lines = {found[n] for n in struck_at}
    plausible = [ln for ln in found if ln.box.h <= MAX_LINE_HEIGHT * poster.height]
    lines = copy_candidates(plausible, s.min_line_conf)
    # every text box found is removed before the product is looked for (copy is never salient then),
    # and from the style image, confident or not: a doubtful line is still ink on the poster
    text = boxes_mask(poster.size, (ln.box for ln in plausible))
    no_text = inpaint(poster, text, s.inpaint, s.inpaint_radius)
    subject_prompt = item.subject or s.subject_prompt
    subject = extract_subject(no_text, subject_prompt, s.subject_method, s.subject,
                              text_boxes=[ln.box for ln in plausible])
    copy_lines, on_product = _split_product_text(lines, np.asarray(subject.mask, np.uint8))
    mask = np.where(boxes_mask(poster.size, (ln.box for ln in copy_lines)) > 0, 0, subject.mask).astype(np.uint8)
    style = inpaint(poster, np.maximum(grow_mask(mask, 7), text), s.inpaint, s.inpaint_radius)
    layout = Layout(canvas=Size(*poster.size), template="found", subject_box=subject.bbox,
                    lines=tuple(_text_line(ln, n) for n, ln in enumerate(copy_lines)))
    notes = [f"{on_product} OCR line(s) on the product ignored"] if on_product else []
    bullets = sum(is_ornament(ln.text) for ln in plausible if ln.score >= s.min_line_conf)
    if bullets:
        notes.append(f"{bullets} OCR line(s) read as bullets only ignored (ornament, not copy)")
    if len(found) > len(lines) + bullets:
        notes.append(f"{len(found) - len(lines) - bullets} OCR line(s) below confidence or implausibly tall ignored")
    if subject.note:
        notes.append(f"subject: {subject.note}")
    return Conditions(poster=poster, subject_mask=mask, style=style, layout=layout,
                      prompt=item.prompt or found_poster_prompt(subject_prompt, style), style_from="inpaint",
                      subject_method=subject.method, line_scores=tuple(ln.score for ln in copy_lines),
                      notes=tuple(notes), suspect=_suspect(len(lines), on_product),
                      struck=tuple(n for n, ln in enumerate(copy_lines) if ln in struck_lines),
                      subject_confidence=subject.confidence, subject_confidence_why=subject.confidence_why)


def copy_candidates(lines: list[OcrLine], min_conf: float) -> list[OcrLine]:
    """The lines read at `min_conf` or better that are copy: not a lone bullet or tag hole read as '●'."""
    return [ln for ln in lines if ln.score >= min_conf and not is_ornament(ln.text)]


def _suspect(n_lines: int, on_product: int) -> str | None:
    """A mask over every line of text means extraction swallowed the copy. (Some lines on the product are
    normal: a tin's brand, a printed case; a wrong mask is caught by the mask confidence.)"""
    return "subject_covers_text" if n_lines and on_product == n_lines else None


def _split_product_text(lines: list[OcrLine], mask: np.ndarray) -> tuple[list[OcrLine], int]:
    """Lines mostly on the product are its label, not the poster copy."""
    keep = [ln for ln in lines if (mask[ln.box.y0:ln.box.y1, ln.box.x0:ln.box.x1] > 127).mean() < 0.5]
    return keep, len(lines) - len(keep)


def _text_line(ln: OcrLine, block: int) -> TextLine:
    return TextLine(role="text", text=ln.text, box=ln.box, font_size=fit_font_size(ln.text, ln.box),
                    weight=400, color=(255, 255, 255), block=block)
