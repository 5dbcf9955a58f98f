"""`dataset validate`: every path exists, image shapes agree with the row, ids unique, no SKU leak."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image

from ecomctl.dataset.corpus import PATH_COLUMNS, SAMPLES, SCHEMA, read_samples
from ecomctl.errors import ConfigError
from ecomctl.text.glyph import GLYPH_CELL

SAME_SIZE = ("poster", "subject", "mask", "style", "glyph")


def validate_corpus(corpus: Path) -> list[str]:
    """Every problem found, one line each (empty = the corpus is sound)."""
    if not corpus.is_dir():
        raise ConfigError(f"{corpus}: not a folder")
    if not (corpus / SAMPLES).is_file():
        return [f"{corpus / SAMPLES}: missing (not a built corpus?)"]
    try:
        rows = read_samples(corpus)
    except Exception as e:  # noqa: BLE001 — pyarrow raises several kinds for a damaged file
        return [f"{corpus / SAMPLES}: unreadable: {e}"]
    missing_cols = [c for c in SCHEMA.names if rows and c not in rows[0]]
    if missing_cols:
        return [f"{SAMPLES}: missing column(s) {', '.join(missing_cols)}"]
    problems = _duplicate_ids(rows) + _sku_leaks(rows)
    for r in rows:
        problems += _row_problems(corpus, r)
    return problems


def _duplicate_ids(rows: list[dict[str, Any]]) -> list[str]:
    seen: set[str] = set()
    dup = {r["id"] for r in rows if r["id"] in seen or seen.add(r["id"])}
    return [f"sample id {i!r} appears more than once" for i in sorted(dup)]


def _sku_leaks(rows: list[dict[str, Any]]) -> list[str]:
    splits: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        splits[r["sku"]].add(r["split"])
    return [f"SKU {sku!r} leaks across splits ({', '.join(sorted(s))})"
            for sku, s in sorted(splits.items()) if len(s) > 1]


def _row_problems(corpus: Path, r: dict[str, Any]) -> list[str]:
    out = []
    for col in PATH_COLUMNS:
        rel = r.get(col)
        if rel is None:
            if (col != "glyph_crops" or r["n_glyphs"]) and (col != "logo" or r.get("logo_box")):
                out.append(f"{r['id']}: {col} path is empty")
            continue
        path = corpus / rel
        if not path.is_file():
            out.append(f"{r['id']}: {col} file missing: {rel}")
            continue
        size = _size(path)
        want = _expected_size(col, r)
        if size != want:
            out.append(f"{r['id']}: {col} is {size[0]}x{size[1]}, expected {want[0]}x{want[1]}")
    if len(r["glyphs"]) != r["n_glyphs"] or len(r["lines"]) != r["n_lines"]:
        out.append(f"{r['id']}: glyph/line counts disagree with their lists")
    return out


def _expected_size(col: str, r: dict[str, Any]) -> tuple[int, int]:
    if col in SAME_SIZE + ("style_ref",):
        return (r["width"], r["height"])
    if col == "logo":  # the logo as drawn, the size of its box
        box = r.get("logo_box") or [0, 0, -1, -1]
        return (box[2] - box[0], box[3] - box[1])
    return (GLYPH_CELL * r["n_glyphs"], GLYPH_CELL)


def _size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        return (-1, -1)
