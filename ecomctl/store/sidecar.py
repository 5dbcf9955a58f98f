"""Write stage: the poster sidecar schema (versioned), its JSON builders and a reader that names the wrong field."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecomctl.errors import EcomctlError
from ecomctl.textsafe import hide_credentials
from ecomctl.types import Box, Check, Layout, Plate, QAResult, Size, SkuRow, Style, TextLine

SCHEMA = "ecomctl.sidecar/2"  # /2: poster size + digest, cutout and scene-under-product layers
_NAME = r"^[^/\\]+$"  # a file name inside the SKU folder, never a path


class SidecarError(EcomctlError):
    """A sidecar that cannot be used; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Line(_Model):
    role: str
    text: str
    box: list[int] = Field(min_length=4, max_length=4)
    font_size: int
    weight: int
    color: list[int] = Field(min_length=3, max_length=3)
    block: int = 0


class _Plate(_Model):
    role: str
    box: list[int] = Field(min_length=4, max_length=4)
    color: list[int] = Field(min_length=3, max_length=3)
    kind: Literal["tag", "badge", "band", "pill", "dot"]


class _Logo(_Model):
    box: list[int] = Field(min_length=4, max_length=4)
    file: str = Field(pattern=_NAME)  # the logo as drawn (RGBA, the box's size): what QA compares the box with


class _Layout(_Model):
    canvas: list[int] = Field(min_length=2, max_length=2)
    template: str
    subject_box: list[int] = Field(min_length=4, max_length=4)
    font: str = ""
    lines: list[_Line]
    plates: list[_Plate] = []
    logo: _Logo | None = None
    dropped: list[str] = []


class _Inputs(_Model):
    sku: str
    image: str
    title: str
    size: str


class _Files(_Model):
    mask: str = Field(pattern=_NAME)
    subject: str = Field(pattern=_NAME)
    cutout: str = Field(pattern=_NAME)
    cutout_box: list[int] = Field(min_length=4, max_length=4)
    under: str = Field(pattern=_NAME)
    background: str | None = Field(default=None, pattern=_NAME)
    thumb: str | None = Field(default=None, pattern=_NAME)  # report thumbnail, made with these two settings
    thumb_px: int | None = None
    thumb_quality: int | None = None


class _PosterFile(_Model):
    bytes: int = Field(ge=0)
    sha256: str = Field(min_length=64, max_length=64)
    mtime_ns: int | None = None  # the poster file's stat when written: a night trusts an unchanged stat (as
    ino: int | None = None       # git's index does) and hashes the file only when it differs or --verify


class _Sidecar(_Model):
    schema_: Literal["ecomctl.sidecar/2"] = Field(alias="schema")
    sku: str
    variant: int = Field(ge=1)
    seed: int
    image: str = Field(pattern=_NAME)
    key: str
    inputs: _Inputs
    backend: dict[str, Any]
    subject: dict[str, Any]
    style: dict[str, Any]
    layout: _Layout
    timings: dict[str, float]
    qa: dict[str, Any] | None
    qa_key: str | None = None  # digest of the QA settings and code the verdict was graded with (qa.grading_key)
    qa_measure_key: str | None = None  # the part of it the measurements depend on (qa.measure_key): while it
    #                                    matches, a changed qa_key re-judges the stored values (qa/rejudge.py)
    files: _Files
    poster: _PosterFile


def read_sidecar(path: Path, check: bool = True) -> dict[str, Any]:
    """The sidecar's data, checked against the schema; SidecarError names the file and the wrong field.

    `check=False` is the nightly fast path (resume, report thumbnails): a JSON object of this schema
    version, fields not validated — ~40 % of a full read. Its caller must treat a missing or mistyped field
    as "not finished" (render again), never trust it."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as e:
        raise SidecarError(f"{path}: cannot read sidecar: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SidecarError(f"{path}: sidecar is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise SidecarError(f"{path}: sidecar is not a JSON object")
    if data.get("schema") != SCHEMA:
        raise SidecarError(f"{path}: field schema: {data.get('schema')!r} is not {SCHEMA!r} "
                           "(written by another ecomctl version: render again with --force)")
    if not check:
        return data
    try:
        _Sidecar.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SidecarError(f"{path}: field {where}: {first['msg']}") from None
    return data


def layout_json(layout: Layout, logo_file: str | None = None) -> dict[str, Any]:
    return {
        "canvas": [layout.canvas.w, layout.canvas.h], "template": layout.template,
        "subject_box": layout.subject_box.as_list(), "font": layout.font,
        "lines": [{"role": t.role, "text": t.text, "box": t.box.as_list(), "font_size": t.font_size,
                   "weight": t.weight, "color": list(t.color), "block": t.block} for t in layout.lines],
        "plates": [{"role": p.role, "box": p.box.as_list(), "color": list(p.color), "kind": p.kind}
                   for p in layout.plates],
    } | _brand_json(layout, logo_file)


def _brand_json(layout: Layout, logo_file: str | None) -> dict[str, Any]:
    """The logo's box and layer file, and what was dropped: only when there is any (older sidecars unchanged)."""
    out: dict[str, Any] = {}
    if layout.logo is not None:
        out["logo"] = {"box": layout.logo.as_list(), "file": logo_file}
    if layout.dropped:
        out["dropped"] = list(layout.dropped)
    return out


def layout_from_json(d: dict[str, Any]) -> Layout:
    lines = tuple(TextLine(role=t["role"], text=t["text"], box=Box.from_list(t["box"]), font_size=t["font_size"],
                           weight=t["weight"], color=tuple(t["color"]), block=t.get("block", 0))
                  for t in d["lines"])
    plates = tuple(Plate(role=p["role"], box=Box.from_list(p["box"]), color=tuple(p["color"]), kind=p["kind"])
                   for p in d.get("plates", []))
    logo = d.get("logo")
    return Layout(canvas=Size(*d["canvas"]), template=d["template"], subject_box=Box.from_list(d["subject_box"]),
                  lines=lines, plates=plates, font=d.get("font", ""),
                  logo=Box.from_list(logo["box"]) if logo else None, dropped=tuple(d.get("dropped", ())))


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
    del out["url_where"]  # where the photo URL sits in the manifest: not an input
    if out["url"] is None:  # a local photo's inputs (and render key) stay as before photos by URL existed
        del out["url"]
    else:
        out["url"] = hide_credentials(out["url"])  # OUT is shared; the key still follows the photo's digest
    # a row without the brand fields keeps the inputs (and render key) it had before they existed
    for name in ("logo", "points", "list_price", "price_label"):
        if not out[name]:
            del out[name]
    if "logo" in out:
        out["logo"] = str(row.logo)
    if "points" in out:
        out["points"] = list(row.points)
    return out


def row_from_json(d: dict[str, Any]) -> SkuRow:
    from ecomctl.sizes import parse_size

    known = {f.name for f in fields(SkuRow)}  # sidecar inputs also carry manifest, image_sha256
    row = {k: v for k, v in d.items() if k in known}
    if row.get("logo"):
        row["logo"] = Path(row["logo"])
    row["points"] = tuple(row.get("points") or ())
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
