"""Sidecar JSON per poster: what was rendered and how (written by the runner, read by qa and dataset)."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl.errors import EcomctlError
from ecomctl.io import open_image
from ecomctl.render.paste import place_subject
from ecomctl.subject.mask import mask_bbox
from ecomctl.types import Box, Check, Layout, Plate, Poster, QAResult, Size, SkuRow, Style, Subject, TextLine

SCHEMA = "ecomctl.sidecar/1"


def layout_json(layout: Layout) -> dict[str, Any]:
    return {
        "canvas": [layout.canvas.w, layout.canvas.h], "template": layout.template,
        "subject_box": layout.subject_box.as_list(), "font": layout.font,
        "lines": [{"role": t.role, "text": t.text, "box": t.box.as_list(), "font_size": t.font_size,
                   "weight": t.weight, "color": list(t.color), "block": t.block} for t in layout.lines],
        "plates": [{"role": p.role, "box": p.box.as_list(), "color": list(p.color), "kind": p.kind}
                   for p in layout.plates],
    }


def layout_from_json(d: dict[str, Any]) -> Layout:
    lines = tuple(TextLine(t["role"], t["text"], Box.from_list(t["box"]), t["font_size"], t["weight"],
                           tuple(t["color"]), t.get("block", 0)) for t in d["lines"])
    plates = tuple(Plate(p["role"], Box.from_list(p["box"]), tuple(p["color"]), p["kind"])
                   for p in d.get("plates", []))
    return Layout(Size(*d["canvas"]), d["template"], Box.from_list(d["subject_box"]), lines, plates,
                  d.get("font", ""))


def qa_json(qa: QAResult | None) -> dict[str, Any] | None:
    if qa is None:
        return None
    return {"status": qa.status, "checks": [asdict(c) for c in qa.checks], "details": dict(qa.details)}


def qa_from_json(d: dict[str, Any] | None) -> QAResult | None:
    if not d:
        return None
    return QAResult(d["status"], tuple(Check(**c) for c in d.get("checks", [])), d.get("details", {}))


def row_json(row: SkuRow) -> dict[str, Any]:
    out = {f.name: getattr(row, f.name) for f in fields(row)}
    out["image"], out["size"] = str(row.image), str(row.size)
    return out


def row_from_json(d: dict[str, Any]) -> SkuRow:
    from ecomctl.manifest import parse_size

    known = {f.name for f in fields(SkuRow)}  # sidecar inputs also carry manifest, image_sha256
    row = {k: v for k, v in d.items() if k in known}
    return SkuRow(**{**row, "image": Path(d["image"]), "size": parse_size(d["size"])})


def style_json(style: Style) -> dict[str, Any]:
    d = asdict(style)
    d["reference"] = str(style.reference) if style.reference else None
    return d


def style_from_json(d: dict[str, Any]) -> Style:
    d = dict(d)
    d["background"] = tuple(tuple(c) for c in d["background"])
    for k in ("accent", "text", "plate"):
        d[k] = tuple(d[k])
    d["reference"] = Path(d["reference"]) if d.get("reference") else None
    return Style(**d)


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise EcomctlError(f"{path}: cannot read sidecar: {e}") from None
    if data.get("schema") != SCHEMA:
        raise EcomctlError(f"{path}: not an ecomctl sidecar (schema {data.get('schema')!r})")
    return data


def load_poster(path: Path) -> Poster:
    """Rebuild a Poster (image, layers, layout, intended product mask) from an output folder."""
    path = Path(path)
    d = read_sidecar(path)
    folder = path.parent
    files = d["files"]
    row = row_from_json(d["inputs"])
    layout = layout_from_json(d["layout"])
    image = Image.open(folder / d["image"]).convert("RGB")
    canvas_mask = np.asarray(Image.open(folder / files["subject"]).convert("L"))
    source_mask = np.asarray(Image.open(folder / files["mask"]).convert("L"))
    source = open_image(row.image).convert("RGB")  # upright, as render read it (the mask's coordinates)
    subject = Subject(source, source_mask, mask_bbox(source_mask), d["subject"]["method"])
    layer = place_subject(subject, layout.subject_box, layout.canvas)
    bg = files.get("background")
    background = Image.open(folder / bg).convert("RGB") if bg and (folder / bg).is_file() else None
    meta = {k: d[k] for k in ("backend", "timings", "subject", "key") if k in d}
    meta["sidecar"] = str(path)
    meta["qa"] = d.get("qa")
    return Poster(row, d["variant"], d["seed"], image, background, canvas_mask, layer, layout,
                  style_from_json(d["style"]), meta)
