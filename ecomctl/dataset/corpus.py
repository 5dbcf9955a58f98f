"""Corpus files: samples.parquet (fixed schema, relative paths), WebDataset tar shards, reading back."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ecomctl.store.files import writing

SAMPLES = "samples.parquet"
PATH_COLUMNS = ("poster", "subject", "mask", "style", "glyph", "glyph_crops", "logo", "style_ref")
# the poster-layout metrics QA measures on a render (qa/layout_metrics.py NAMES; docs/layout-metrics.md)
LAYOUT_METRICS = ("val", "ove", "ali", "und_l", "und_s", "uti", "occ", "rea")

_BOX = pa.list_(pa.int32())
SCHEMA = pa.schema([
    ("id", pa.string()), ("sku", pa.string()), ("group", pa.string()), ("split", pa.string()),
    ("source", pa.string()), ("src", pa.string()),
    ("poster", pa.string()), ("subject", pa.string()), ("mask", pa.string()), ("style", pa.string()),
    ("glyph", pa.string()), ("glyph_crops", pa.string()),
    ("logo", pa.string()), ("logo_box", _BOX),  # the brand logo as drawn (RGBA, logo_box's size) and its place
    ("style_ref", pa.string()), ("style_ref_id", pa.string()),
    ("width", pa.int32()), ("height", pa.int32()), ("orig_width", pa.int32()), ("orig_height", pa.int32()),
    ("scale", pa.float64()), ("pad", _BOX),
    ("prompt", pa.string()), ("lang", pa.string()), ("text", pa.string()),
    ("lines", pa.list_(pa.struct([("text", pa.string()), ("role", pa.string()), ("box", _BOX),
                                  ("font_size", pa.int32()), ("weight", pa.int32()),
                                  ("score", pa.float64()), ("block", pa.int32()),
                                  ("struck", pa.bool_())]))),  # struck: drawn struck through (list price)
    ("glyphs", pa.list_(pa.struct([("char", pa.string()), ("line", pa.int32()), ("index", pa.int32()),
                                   ("box", _BOX), ("size_code", pa.int32()),
                                   ("local", pa.list_(pa.float64()))]))),
    ("n_lines", pa.int32()), ("n_glyphs", pa.int32()),
    ("subject_bbox", _BOX), ("subject_area", pa.float64()), ("subject_method", pa.string()),
    ("subject_confidence", pa.float64()),  # the extractor's mask confidence; null when the mask is exact
    ("style_from", pa.string()), ("phash", pa.string()), ("style_phash", pa.string()),
    ("notes", pa.list_(pa.string())),
    ("template", pa.string()), ("dropped", pa.list_(pa.string())),  # copy the render's layout could not hold
    ("qa_status", pa.string()), ("qa_flags", pa.list_(pa.string())),  # the render's QA verdict, its warn/fail checks
    ("layout_metrics", pa.struct([(n, pa.float64()) for n in LAYOUT_METRICS])),
])


def write_samples(corpus: Path, rows: list[dict[str, Any]]) -> Path:
    """One row per kept sample, columns in SCHEMA order (extra record keys are not stored)."""
    table = pa.Table.from_pylist([{k: r.get(k) for k in SCHEMA.names} for r in rows], schema=SCHEMA)
    path = corpus / SAMPLES
    tmp = path.with_suffix(".parquet.tmp")
    try:
        with writing(path):  # a full disk names this file (exit 3), and leaves no partial temp file
            pq.write_table(table, tmp)
            tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_samples(corpus: Path) -> list[dict[str, Any]]:
    return pq.read_table(corpus / SAMPLES).to_pylist()


def write_shards(corpus: Path, rows: list[dict[str, Any]], shard_size: int) -> list[Path]:
    """WebDataset layout: shards/<split>-NNNNNN.tar, members `<id>.<kind>.png` + `<id>.json`."""
    shards = corpus / "shards"
    shards.mkdir(exist_ok=True)
    for old in shards.glob("*.tar"):
        old.unlink()
    written = []
    for split in sorted({r["split"] for r in rows}):
        members = [r for r in rows if r["split"] == split]
        for n in range(0, len(members), max(1, shard_size)):
            path = shards / f"{split}-{n // max(1, shard_size):06d}.tar"
            _write_tar(corpus, path, members[n:n + shard_size])
            written.append(path)
    return written


def _write_tar(corpus: Path, path: Path, rows: list[dict[str, Any]]) -> None:
    with tarfile.open(path, "w") as tar:
        for r in rows:
            key = r["id"].replace(".", "_")  # WebDataset splits the key from the extension at the first dot
            for col in PATH_COLUMNS[:-1]:
                if r.get(col):
                    tar.add(corpus / r[col], arcname=f"{key}.{col}.png")
            meta = json.dumps({k: r.get(k) for k in SCHEMA.names if k not in PATH_COLUMNS},
                              ensure_ascii=False).encode()
            info = tarfile.TarInfo(f"{key}.json")
            info.size = len(meta)
            tar.addfile(info, io.BytesIO(meta))
