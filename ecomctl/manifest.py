"""Load & validate stage: CSV/YAML manifest → SkuRow values; every problem as `file:row:column: message`."""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ecomctl.errors import ManifestError
from ecomctl.types import Size, SkuRow

FIELDS = ("sku", "image", "title", "subtitle", "price", "badge", "subject", "style", "prompt",
          "size", "template", "variants", "seed", "lang")
REQUIRED = ("sku", "image", "title")
SIZE_PRESETS = {
    "square": Size(1024, 1024), "square-800": Size(800, 800), "square-1024": Size(1024, 1024),
    "tmall": Size(800, 800), "jd": Size(800, 800), "amazon": Size(1600, 1600),
    "instagram": Size(1080, 1080), "portrait": Size(1080, 1350),
    "story": Size(1080, 1920), "banner": Size(1200, 628),
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
_SIZE_RE = re.compile(r"^(\d{2,5})\s*[xX×]\s*(\d{2,5})$")


def parse_size(value: str) -> Size:
    """`1024x1024`, `1080X1920` or a preset name (square-800, story, banner …)."""
    text = str(value).strip().lower()
    if text in SIZE_PRESETS:
        return SIZE_PRESETS[text]
    m = _SIZE_RE.match(text)
    if not m:
        close = difflib.get_close_matches(text, SIZE_PRESETS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"bad size {value!r}: use WxH (e.g. 1024x1024) or a preset{hint}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (256 <= w <= 4096 and 256 <= h <= 4096):
        raise ValueError(f"bad size {value!r}: each side must be 256..4096 px")
    return Size(w, h)


class RowModel(BaseModel):
    """Field-level rules for one row (cross-row and file-system checks come after)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sku: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
    image: str = Field(min_length=1)
    title: str = Field(min_length=1, max_length=80)
    subtitle: str | None = Field(None, max_length=120)
    price: str | None = Field(None, max_length=24)
    badge: str | None = Field(None, max_length=16)
    subject: str | None = None
    style: str | None = None
    prompt: str | None = None
    size: Size | None = None
    template: str | None = None
    variants: int | None = Field(None, ge=1, le=16)
    seed: int | None = Field(None, ge=0)
    lang: Literal["zh", "en", "auto"] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("sku", "image", "title", "subtitle", "price", "badge", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        return parse_size(v) if isinstance(v, (str, int)) else v


@dataclass(frozen=True)
class RawRow:
    """A row as read from the file, with where each field came from."""

    data: dict[str, Any]
    line: int
    columns: dict[str, int]  # field → column number (1-based)
    lines: dict[str, int] | None = None  # field → line, where fields sit on their own lines (YAML)

    def at(self, field: str) -> tuple[int, int]:
        return (self.lines or {}).get(field, self.line), self.columns.get(field, 1)


@dataclass(frozen=True)
class Manifest:
    path: Path
    rows: tuple[SkuRow, ...]


class _Problems:
    def __init__(self, path: Path):
        self.path, self.items = path, []

    def add(self, line: int, col: int, msg: str) -> None:
        self.items.append((line, col, f"{self.path}:{line}:{col}: {msg}"))

    def raise_if_any(self) -> None:
        if self.items:
            raise ManifestError([m for _, _, m in sorted(self.items)])


def _read_csv(path: Path, problems: _Problems) -> list[RawRow]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(reader, [])]
    if not header:
        problems.add(1, 1, "manifest is empty (expected a header row)")
        return []
    cols = {name: i + 1 for i, name in enumerate(header)}
    for name in REQUIRED:
        if name not in cols:
            problems.add(1, len(header) + 1, f"missing required column {name!r}")
    for name, i in cols.items():
        if name not in FIELDS:
            problems.add(1, i, _unknown(name))
    rows = []
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            problems.add(line, len(header) + 1, f"{len(values)} cells but the header has {len(header)}")
        data = {h: v for h, v in zip(header, values) if h in FIELDS}
        rows.append(RawRow(data, line, {k: v for k, v in cols.items() if k in FIELDS}))
    return rows


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, FIELDS, n=1)
    return f"unknown column {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")


def _scalar(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _read_yaml(path: Path, problems: _Problems) -> list[RawRow]:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problems.add(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, f"invalid YAML: {e}")
        return []
    defaults: dict[str, Any] = {}
    items = root
    if isinstance(root, yaml.MappingNode):
        top = {k.value: v for k, v in root.value}
        if "skus" not in top:
            problems.add(root.start_mark.line + 1, 1, "expected a list of rows or `defaults:` + `skus:`")
            return []
        items = top["skus"]
        if "defaults" in top:
            defaults = _scalar(top["defaults"]) or {}
            for key in defaults:
                if key not in FIELDS or key in ("sku", "image"):
                    mark = top["defaults"].start_mark
                    problems.add(mark.line + 1, mark.column + 1, f"defaults: {_unknown(key)}")
    if not isinstance(items, yaml.SequenceNode):
        problems.add(1, 1, "expected a list of SKU rows")
        return []
    rows = []
    for node in items.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            problems.add(line, node.start_mark.column + 1, "each row must be a mapping of field: value")
            continue
        data = {k: v for k, v in defaults.items() if k in FIELDS}
        cols: dict[str, int] = {}
        lines: dict[str, int] = {}
        for knode, vnode in node.value:
            key = str(knode.value).strip().lower()
            if key not in FIELDS:
                problems.add(knode.start_mark.line + 1, knode.start_mark.column + 1, _unknown(key))
                continue
            data[key] = _scalar(vnode)
            cols[key] = knode.start_mark.column + 1
            lines[key] = knode.start_mark.line + 1
        rows.append(RawRow(data, line, cols, lines))
    return rows


def _check_row(raw: RawRow, base: Path, problems: _Problems, known: _Known) -> RowModel | None:
    """Field rules, then file and name checks on whatever fields are usable: all problems, not the first."""
    model = None
    bad: set[str] = set()
    try:
        model = RowModel.model_validate(raw.data)
    except ValidationError as e:
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "row"
            bad.add(field)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing" or (field in REQUIRED and raw.data.get(field) in (None, "")):
                msg = "required, but empty" if field in raw.data else "required, but missing"
            problems.add(*raw.at(field), f"{field}: {msg}")
    image = str(raw.data.get("image") or "").strip()
    if image and "image" not in bad:
        path = (base / image).resolve()
        if not path.is_file():
            problems.add(*raw.at("image"), f"image: file not found: {image}")
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            problems.add(*raw.at("image"), f"image: not an image file: {image}")
    style, template = (str(raw.data.get(k) or "").strip() for k in ("style", "template"))
    if style and not known.style_ok(style, base):
        problems.add(*raw.at("style"), f"style: {known.style_message(style)}")
    if template and template not in known.templates:
        problems.add(*raw.at("template"), f"template: {known.template_message(template)}")
    return model


class _Known:
    """Names a row may refer to: style presets (or a reference image path) and layout templates."""

    def __init__(self, styles: Iterable[str], templates: Iterable[str]):
        self.styles, self.templates = sorted(styles), sorted(templates)

    def style_ok(self, value: str, base: Path) -> bool:
        if Path(value).suffix.lower() in IMAGE_SUFFIXES:
            return (base / value).is_file()
        return value in self.styles

    def style_message(self, value: str) -> str:
        if Path(value).suffix.lower() in IMAGE_SUFFIXES:
            return f"style reference image not found: {value}"
        return _did_you_mean("style", value, self.styles)

    def template_message(self, value: str) -> str:
        return _did_you_mean("template", value, self.templates)


def _did_you_mean(kind: str, value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {value!r}{hint} (known: {', '.join(known)})"


def load_manifest(path: Path | str, default_size: str = "1024x1024", default_variants: int = 1,
                  styles: Iterable[str] | None = None, templates: Iterable[str] | None = None) -> Manifest:
    """Read and validate the whole manifest; raise ManifestError listing every problem found."""
    from ecomctl.render.styles import load_styles
    from ecomctl.text.layout import TEMPLATES

    path = Path(path)
    problems = _Problems(path)
    if not path.is_file():
        raise ManifestError([f"{path}: manifest not found"])
    reader = _read_yaml if path.suffix.lower() in (".yaml", ".yml") else _read_csv
    try:
        raws = reader(path, problems)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ManifestError([f"{path}: cannot read manifest: {e}"]) from None
    if not raws and not problems.items:
        problems.add(1, 1, "manifest has no SKU rows")
    known = _Known(styles if styles is not None else load_styles(None, path.parent),
                   templates if templates is not None else TEMPLATES)
    base = path.parent
    seen: dict[str, int] = {}
    rows: list[SkuRow] = []
    for raw in raws:
        model = _check_row(raw, base, problems, known)
        sku = str(raw.data.get("sku") or "").strip()
        if sku in seen:
            problems.add(*raw.at("sku"), f"sku: duplicate {sku!r} (first on row {seen[sku]})")
        elif sku:
            seen[sku] = raw.line
        if model is not None:
            rows.append(_to_row(model, base, raw.line, path, default_size, default_variants))
    problems.raise_if_any()
    return Manifest(path, tuple(rows))


def _to_row(m: RowModel, base: Path, line: int, path: Path, default_size: str, default_variants: int) -> SkuRow:
    style = m.style
    if style and Path(style).suffix.lower() in IMAGE_SUFFIXES:
        style = str((base / style).resolve())
    return SkuRow(
        sku=m.sku, image=(base / m.image).resolve(), title=m.title, size=m.size or parse_size(default_size),
        subtitle=m.subtitle, price=m.price, badge=m.badge, subject=m.subject, style=style, prompt=m.prompt,
        template=m.template, variants=m.variants or default_variants, seed=m.seed, lang=m.lang,
        where=f"{path}:{line}",
    )
