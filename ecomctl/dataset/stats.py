"""Corpus statistics (stats.json) and the short datasheet.md written next to samples.parquet."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ecomctl.dataset.settings import DatasetSettings
from ecomctl.text.glyph import GLYPH_CELL

STATS = "stats.json"
DATASHEET = "datasheet.md"
TEXT_BINS = [0, 1, 5, 10, 20, 40, 80, 160, 10**6]
AREA_BINS = [round(x, 1) for x in np.linspace(0, 1, 11)]


def compute_stats(rows: list[dict[str, Any]], dropped: Counter, errors: list[dict[str, str]],
                  seconds: float | None = None) -> dict[str, Any]:
    text_len = [len(r["text"].replace("\n", "")) for r in rows]
    return {
        "samples": len(rows),
        "splits": dict(sorted(Counter(r["split"] for r in rows).items())),
        "skus": len({r["sku"] for r in rows}),
        "skus_by_split": {s: len({r["sku"] for r in rows if r["split"] == s}) for s in ("train", "bench")},
        "sources": dict(Counter(r["source"] for r in rows)),
        "dropped": dict(sorted(dropped.items())),
        "errors": len(errors),
        "error_items": errors[:50],
        "languages": dict(sorted(Counter(r["lang"] for r in rows).items())),
        "style_from": dict(Counter(r["style_from"] for r in rows)),
        "roles": dict(sorted(Counter(ln["role"] for r in rows for ln in r["lines"]).items())),
        "struck_lines": sum(bool(ln.get("struck")) for r in rows for ln in r["lines"]),
        "with_logo": sum(r.get("logo_box") is not None for r in rows),
        "with_dropped_copy": sum(bool(r.get("dropped")) for r in rows),
        "qa_status": dict(sorted(Counter(r.get("qa_status") or "none" for r in rows).items())),
        "paired": sum(1 for r in rows if r.get("style_ref_id")),
        "lines_per_sample": _mean([r["n_lines"] for r in rows]),
        "glyphs_per_sample": _mean([r["n_glyphs"] for r in rows]),
        "text_length_hist": _hist(text_len, TEXT_BINS),
        "subject_area_hist": _hist([r["subject_area"] for r in rows], AREA_BINS),
        "seconds": seconds,
    }


def _mean(xs: list[float]) -> float:
    return round(float(np.mean(xs)), 3) if xs else 0.0


def _hist(values: list[float], bins: list[float]) -> dict[str, int]:
    counts, _ = np.histogram(values, bins=bins)
    return {f"{lo}-{hi}": int(c) for lo, hi, c in zip(bins[:-1], bins[1:], counts)}


def write_stats(corpus: Path, stats: dict[str, Any]) -> Path:
    path = corpus / STATS
    path.write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_stats(corpus: Path) -> dict[str, Any]:
    return json.loads((corpus / STATS).read_text(encoding="utf-8"))


def _sheet_line(stats: dict[str, Any]) -> str:
    if not stats.get("check_sheet"):
        return "no check sheet written (dataset.check_sheet: 0)."
    return f"`{stats['check_sheet']}` shows random samples as poster | subject | style | glyph — look at it."


def _dropped_list(stats: dict[str, Any]) -> str:
    items = stats.get("dropped_items") or []
    if not items:
        return ""
    lines = "".join(f"\n    - `{d['id']}`: {d['reason']} — {d['detail']}" for d in items[:50])
    more = f"\n    - … {len(items) - 50} more in stats.json" if len(items) > 50 else ""
    return "\n  Dropped samples:" + lines + more


def write_datasheet(corpus: Path, stats: dict[str, Any], s: DatasetSettings, source: str) -> Path:
    drops = ", ".join(f"{k} {v}" for k, v in stats["dropped"].items()) or "none"
    text = f"""# Datasheet — ecomctl corpus

InnoComposer-style samples built by `ecomctl dataset build` from `{source}`.

- **Samples**: {stats['samples']} ({', '.join(f'{k} {v}' for k, v in stats['splits'].items())}) from \
{stats['skus']} SKUs; the split is grouped by SKU (seed {s.seed}), no SKU is on both sides.
- **Per sample** (`samples.parquet`, paths relative to this folder): poster; prompt (metadata or built from
  style and category words, never the copy text); subject image (non-subject black) + mask + bbox; style
  image (poster without text and subject: render background layer, else OpenCV {s.inpaint} inpainting);
  glyph image (text white on black at its place); glyph crops (`images/glyph_crops`, one {GLYPH_CELL}px cell per
  glyph, left to right in the order of the `glyphs` column: absolute box, font-size code 0..31 =
  font size / canvas height quantised up to 0.2, local box inside the line); text lines with boxes, roles and
  `struck` (the list price: its strike is not in the glyph image); the brand logo (`images/logo`, RGBA) and its
  `logo_box`; the render's template, dropped copy, QA verdict and layout metrics; language.
- **Normalisation**: {s.size}×{s.size}, aspect kept, black padding recorded in `pad` (left, top, right,
  bottom) with `scale`.
- **Hygiene**: perceptual-hash de-dup (distance ≤ {s.dedup_distance}); filters: shortest side ≥
  {s.min_size}px, mean OCR confidence ≥ {s.min_ocr_conf}, subject area in {list(s.subject_area)}.
  mask confidence ≥ {s.min_mask_conf} (found posters: a mask the extractor does not trust is dropped, not kept);
  renders whose QA verdict is worse than {s.qa_keep} are dropped (`qa_fail` / `qa_warn`).
  Dropped: {drops}. Errors: {stats['errors']}.{_dropped_list(stats)}
- **Visual check**: {_sheet_line(stats)}
- **Copy**: lines by role {stats['roles']}, {stats['struck_lines']} struck through; {stats['with_logo']} with a
  logo; {stats['with_dropped_copy']} whose layout dropped copy. QA verdicts of the kept renders: {stats['qa_status']}.
- **Languages**: {stats['languages']}. Style from: {stats['style_from']}. Sibling-paired style refs: {stats['paired']}.
- **Known limits**: found posters get estimated conditions (OCR text may be wrong, inpainted style images
  keep traces of the removed text and product); their glyph images use Noto Sans CJK fitted to the OCR
  boxes, not the poster's own font.
"""
    path = corpus / DATASHEET
    path.write_text(text, encoding="utf-8")
    return path
