"""Load & validate stage: CSV/TSV/Excel/YAML manifest → SkuRow values; every problem as `file:row:column: message`."""

from __future__ import annotations

import csv
import difflib
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ecomctl.errors import ConfigError, ManifestError
from ecomctl.io import IMAGE_SUFFIXES, file_kind
from ecomctl.manifest_files import FIELDS, MIXED, REQUIRED, UNREAD, Problems, RawRow, read_csv, read_yaml
from ecomctl.outcome import counted
from ecomctl.photos import is_url, url_problem
from ecomctl.sizes import SIZE_PRESETS, parse_size
from ecomctl.store import RESERVED_NAMES
from ecomctl.textsafe import describe, first_control, neutralise, normalise_breaks
from ecomctl.types import Size, SkuRow

__all__ = ["FIELDS", "SIZE_PRESETS", "Manifest", "load_manifest", "parse_size"]
# multi-line copy: a line break in these fields is a forced line break (at most this many lines);
# `prompt` is never drawn, so any number of lines is fine there
MULTILINE = {"title": 3, "subtitle": 2, "prompt": 1000}
# names the run writes at the top of OUT: a SKU folder named so would collide with them (compared
# ignoring case: macOS and Windows file systems do), and device names Windows will not create
RUN_FILES = {n.lower() for n in RESERVED_NAMES} | {"contact_sheet.png", "extract.json"}  # + `ecomctl extract`
DEVICES = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10))}
# selling points: at most this many, each at most this many columns wide (a CJK character is two columns,
# as in a terminal): about 12 Chinese characters or 24 Latin ones, what one line of a poster's list holds
MAX_POINTS, POINT_COLUMNS = 4, 24


def columns(text: str) -> int:
    """Display width in columns: East Asian wide and full-width characters count 2, others 1."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def split_points(value: Any) -> list[str] | None:
    """`points` as a list: a YAML list, or a table cell with the points separated by `|`. Raises ValueError
    (the field's message) for an empty point, too many points, a point too wide or not text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        items = value.split("|")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError("expected text with the points separated by '|', or a YAML list")  # noqa: TRY004
    out = []
    for i, item in enumerate(items, start=1):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            raise ValueError(f"point {i} is not text")  # noqa: TRY004 (pydantic reports ValueError only)
        hit = first_control(normalise_breaks(item))
        if hit:
            raise ValueError(f"point {i}: {'line break' if hit[1] == chr(10) else 'control character ' + describe(hit[1])} "
                             f"at character {hit[0] + 1}; remove it")
        text = " ".join(item.split())
        if not text:
            raise ValueError(f"point {i} is empty (two '|' in a row, or one at an end?)")
        if columns(text) > POINT_COLUMNS:
            raise ValueError(f"point {i} {short_text(text)!r} is {columns(text)} columns wide; at most "
                             f"{POINT_COLUMNS} (a CJK character counts 2), so that it fits one line of the list")
        out.append(text)
    if len(out) > MAX_POINTS:
        raise ValueError(f"{len(out)} points; at most {MAX_POINTS}")
    return out or None


def short_text(text: str, n: int = 30) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def price_number(text: str) -> float | None:
    """The amount of a price as a poster shows it ("¥328", "$39.90", "1,299 元"), or None when it holds
    no single amount ("¥89/2件", "2 for $30")."""
    found = re.findall(r"\d[\d,]*(?:\.\d+)?", text)
    if len(found) != 1:
        return None
    try:
        return float(found[0].replace(",", ""))
    except ValueError:
        return None


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
    campaign: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    logo: str | None = None
    points: list[str] | None = None
    list_price: str | None = Field(None, max_length=24)
    price_label: str | None = Field(None, max_length=12)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("points", mode="before")
    @classmethod
    def _points(cls, v: Any) -> Any:
        return split_points(v)

    @field_validator("sku", "image", "title", "subtitle", "price", "badge", "logo", "list_price", "price_label",
                     mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        return None if v is None else parse_size(v)  # a YAML mapping {w: 9000, h: 9000} is refused, never a way round the limit


@dataclass(frozen=True)
class Manifest:
    path: Path
    rows: tuple[SkuRow, ...]
    source: str = ""  # what the file was read as, e.g. "GB18030 text, semicolon-separated" (validate says it)
    mapping: str = ""  # the shop export's or --columns' mapping its table was read through ("": none)
    notes: tuple[str, ...] = ()  # warnings that stop nothing (a brand with no logo file), one line each


def _clean_text(raw: RawRow, problems: Problems) -> tuple[dict[str, Any], set[str]]:
    """Line breaks normalised to "\n" (a forced line break in title/subtitle), control characters refused
    (they would reach the terminal, the reports and the typesetter as they are)."""
    data, bad = dict(raw.data), set()
    for field, value in raw.data.items():
        if not isinstance(value, str):
            continue
        text = normalise_breaks(value)
        hit = first_control(text, "\n" if field in MULTILINE else "")
        if hit:
            pos, ch = hit
            what = (f"line break at character {pos + 1}; only title, subtitle and prompt may span lines"
                    if ch == "\n" else f"control character {describe(ch)} at character {pos + 1}; remove it")
            problems.add(*raw.at(field), f"{field}: {what}")
            data[field] = neutralise(text)
            bad.add(field)
            continue
        if field in MULTILINE:
            text = "\n".join(ln.strip() for ln in text.split("\n") if ln.strip())
            n = text.count("\n") + 1
            if n > MULTILINE[field]:
                problems.add(*raw.at(field), f"{field}: {n} lines; at most {MULTILINE[field]} "
                                             "(each line break in the cell starts a new line)")
                bad.add(field)
        data[field] = text
    return data, bad


def _check_row(raw: RawRow, base: Path, problems: Problems, known: _Known) -> RowModel | None:
    """Field rules, then file and name checks on whatever fields are usable: all problems, not the first."""
    model = None
    data, bad = _clean_text(raw, problems)
    bad |= raw.bad
    try:
        model = RowModel.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "row"
            if field in bad:
                continue
            bad.add(field)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing" or (field in REQUIRED and data.get(field) in (None, "")):
                msg = "required, but empty" if field in data else "required, but missing"
            problems.add(*raw.at(field), f"{field}: {msg}")
    _check_prices(raw, data, bad, problems)
    for field in ("image", "logo"):
        try:
            _check_file(field, raw, data, bad, base, problems, known)
        except (OSError, ValueError) as e:  # a path the OS refuses (too long, …)
            problems.add(*raw.at(field), f"{field}: cannot use this path: {getattr(e, 'strerror', None) or e}")
    _check_names(raw, data, bad, base, problems, known)
    return model if not bad else None


def _check_prices(raw: RawRow, data: dict[str, Any], bad: set[str], problems: Problems) -> None:
    """A list price or a price label belongs to a price. A list price must be above the price: one equal to
    it, struck through, tells the shopper nothing, and one below it claims a discount that is not there
    (an error, not a warning: a misleading original price is what advertising rules forbid). Made on the
    fields that are valid on their own, whatever else is wrong with the row."""
    def value(field: str) -> str:
        v = data.get(field)
        return "" if v is None or field in bad else str(v).strip()

    price, was = value("price"), value("list_price")
    for field in ("list_price", "price_label"):
        if value(field) and not price and "price" not in bad:
            problems.add(*raw.at(field), f"{field}: given without a price; {field} is drawn with the price")
            bad.add(field)
    if not (was and price) or "list_price" in bad:
        return
    a, b = price_number(was), price_number(price)
    if was == price or (a is not None and b is not None and a == b):
        problems.add(*raw.at("list_price"), f"list_price: {was} equals the price; a struck-through "
                     "price equal to the price says nothing: leave list_price empty")
        bad.add("list_price")
    elif a is not None and b is not None and a < b:
        problems.add(*raw.at("list_price"), f"list_price: {was} is below the price {price}; the list "
                     "price is the price before the discount")
        bad.add("list_price")


def _check_file(field: str, raw: RawRow, data: dict[str, Any], bad: set[str], base: Path, problems: Problems,
                known: _Known) -> None:
    """`image` or `logo`: a file next to the manifest (by stat only) with an image's suffix; a photo may also
    be an http(s) URL (fetched by render), a logo may not."""
    value = str(data.get(field) or "").strip()
    if not value or field in bad:
        return
    if is_url(value):
        if field == "logo":
            problems.add(*raw.at(field), "logo: a URL is not read; save the logo next to the manifest and give "
                         "its path")
            return
        why = url_problem(value, known.url_hosts)  # fetched by render (photos.py), never here
        if why:
            problems.add(*raw.at(field), f"{field}: {why}")
        return
    kind = file_kind(base / value)  # stat only: opening a FIFO would wait for a writer forever
    if kind == "missing":
        problems.add(*raw.at(field), f"{field}: file not found: {value}")
    elif kind != "file":
        problems.add(*raw.at(field), f"{field}: {kind}, not a file: {value}")
    elif _resolved(base / value).suffix.lower() not in IMAGE_SUFFIXES:  # a link's target names the type
        problems.add(*raw.at(field), f"{field}: not an image file: {value}")


def _check_names(raw: RawRow, data: dict[str, Any], bad: set[str], base: Path, problems: Problems,
                 known: _Known) -> None:
    style, template = (str(data.get(k) or "").strip() for k in ("style", "template"))
    if style and "style" not in bad and not known.style_ok(style, base):
        problems.add(*raw.at("style"), f"style: {known.style_message(style)}")
    if template and "template" not in bad and template not in known.templates:
        problems.add(*raw.at("template"), f"template: {known.template_message(template)}")


def _check_sku(raw: RawRow, problems: Problems, seen: dict[str, tuple[str, int]]) -> None:
    """Unique SKUs (also ignoring case: OUT/<sku>/ folders collide on macOS and Windows) and none that
    would collide with the run's own files in OUT."""
    sku = str(raw.data.get("sku") or "").strip()
    if not sku:
        return
    key = sku.lower()
    if key in seen:
        first, line = seen[key]
        problems.add(*raw.at("sku"), f"sku: duplicate {sku!r} (first on row {line})" if first == sku else
                     f"sku: {sku!r} differs from {first!r} (row {line}) only in case; their output folders "
                     "would collide on case-insensitive file systems (macOS, Windows)")
        return
    seen[key] = (sku, raw.line)
    if key in RUN_FILES:
        problems.add(*raw.at("sku"), f"sku: {sku!r} is reserved: OUT/{sku} is written by the run itself; rename the SKU")
    elif key.split(".")[0] in DEVICES:
        problems.add(*raw.at("sku"), f"sku: {sku!r} is a reserved device name on Windows; rename the SKU")
    elif sku.endswith("."):
        problems.add(*raw.at("sku"), f"sku: {sku!r} ends with '.', which Windows drops from folder names")


class _Known:
    """Names a row may refer to: style presets (or a reference image path) and layout templates."""

    def __init__(self, styles: Iterable[str], templates: Iterable[str], url_hosts: list[str] | None = None):
        self.styles, self.templates = sorted(styles), sorted(templates)
        self.url_hosts = url_hosts  # input.url_hosts: the hosts a photo URL may name (None: any)

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


def _read(path: Path, problems: Problems, sheet: str | None, columns: dict[str, str] | None
          ) -> tuple[list[RawRow], str, str]:
    """The reader by file type: .xlsx/.xlsm (first sheet or `sheet`), .yaml/.yml, else delimited text;
    `columns` (--columns) maps a table's columns to fields."""
    from ecomctl.manifest_excel import XLSX_SUFFIXES, read_xlsx

    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return read_xlsx(path, problems, sheet, columns)
    shown = neutralise(str(path))
    if columns is not None and suffix in (".yaml", ".yml"):
        raise ManifestError([(f"{shown}: --columns maps the columns of a table (CSV, TSV, Excel); a YAML "
                              "manifest names its fields itself")])
    if suffix in UNREAD:
        raise ManifestError([f"{shown}: {UNREAD[suffix]} is not read; save it as .xlsx or CSV"])
    if sheet is not None:
        raise ManifestError([(f"{shown}: a sheet ({neutralise(sheet)!r}) can only be picked in an Excel workbook "
                             "(.xlsx); this manifest is text")])
    if suffix in (".yaml", ".yml"):
        return read_yaml(path, problems)
    return read_csv(path, problems, columns)


def _decode_message(shown: str, e: UnicodeDecodeError) -> str:
    where = f"byte 0x{e.object[e.start]:02x} at offset {e.start}"
    if e.encoding.startswith("utf-16"):
        return (f"{shown}: starts with a UTF-16 byte-order mark but is not UTF-16 text ({where}); "
                "save the manifest as UTF-8")
    if e.reason == MIXED:
        return (f"{shown}: UTF-8 text but for {where} (a line pasted from a file in another encoding?); save "
                "the manifest as UTF-8")
    return f"{shown}: not UTF-8 text ({where}), nor UTF-16, GB18030 or Windows-1252; save the manifest as UTF-8"


def load_manifest(path: Path | str, default_size: str = "1024x1024", default_variants: int = 1,
                  styles: Iterable[str] | None = None, templates: Iterable[str] | None = None,
                  sheet: str | None = None, columns: str | None = None,
                  url_hosts: list[str] | None = None, logos: Path | None = None) -> Manifest:
    """Read and validate the whole manifest; raise ManifestError listing every problem found. `sheet`:
    the sheet of an Excel workbook to read (default: its first); `columns`: --columns' `field=COLUMN,…`
    for a table whose header is not in manifest fields (a Shopify export or a Merchant feed is recognised
    without it); `url_hosts`: the hosts a photo URL may name (input.url_hosts; None: any); `logos`: a
    folder of brand logos (input.logos) for a shop export's brand (Shopify Vendor, a feed's brand)."""
    from ecomctl.manifest_exports import parse_columns
    from ecomctl.render.styles import load_styles
    from ecomctl.text.layout import TEMPLATES

    path = Path(path)
    problems = Problems(path)
    mapping = parse_columns(columns) if columns is not None else None
    try:
        parse_size(default_size)
    except ValueError as e:
        raise ConfigError(f"config render.size: {e}") from None
    shown = neutralise(str(path))
    try:
        kind = file_kind(path)  # stat only: a FIFO as manifest is refused, not waited on
    except OSError as e:
        raise ManifestError([f"{shown}: cannot read manifest: {neutralise(e.strerror or str(e))}"]) from None
    if kind != "file":
        raise ManifestError([f"{shown}: manifest not found" if kind == "missing" else f"{shown}: {kind}, not a file"])
    try:
        raws, source, used = _read(path, problems, sheet, mapping)
    except UnicodeDecodeError as e:
        raise ManifestError([_decode_message(shown, e)]) from None
    except (OSError, csv.Error) as e:
        why = neutralise(str(getattr(e, "strerror", None) or e))
        raise ManifestError([f"{shown}: cannot read manifest: {why}"]) from None
    if not raws and not problems.items:
        problems.add(1, 1, "manifest has no SKU rows")
    notes: list[str] = []
    if logos is not None:
        raws, notes = brand_logos(raws, Path(logos))
    known = _Known(styles if styles is not None else load_styles(None, path.parent),
                   templates if templates is not None else TEMPLATES, url_hosts)
    base = path.parent
    seen: dict[str, tuple[str, int]] = {}
    rows: list[SkuRow] = []
    for raw in raws:
        model = _check_row(raw, base, problems, known)
        _check_sku(raw, problems, seen)
        if model is not None:
            rows.append(_to_row(model, base, raw.line, path, default_size, default_variants,
                                neutralise(problems.where(*raw.at("image")))))
    problems.raise_if_any()
    return Manifest(path, tuple(rows), source, used, tuple(notes))


def brand_logos(raws: list[RawRow], folder: Path) -> tuple[list[RawRow], list[str]]:
    """A shop export's rows with each brand's logo from `folder` (`<brand>.png`, the name in any case; another
    image suffix when there is no .png), as if the export had a logo column at the brand's cell; the brand
    is then drawn as the logo, not also as the subtitle. A brand without a file is one warning line (its
    SKUs render without a logo), not an error."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as e:
        raise ConfigError(neutralise(f"input.logos {folder}: not a folder of logos "
                                     f"({e.strerror or e})")) from None
    files: dict[str, Path] = {}
    for p in sorted(entries, key=lambda p: (p.suffix.lower() != ".png", p.name)):
        if p.suffix.lower() in IMAGE_SUFFIXES and file_kind(p) == "file":
            files.setdefault(unicodedata.normalize("NFC", p.stem).casefold(), p)
    out, missing = [], {}
    for raw in raws:
        if raw.brand is None or str(raw.data.get("logo") or "").strip():
            out.append(raw)
            continue
        brand, line, col = raw.brand
        found = files.get(unicodedata.normalize("NFC", brand.strip()).casefold())
        if found is None:
            missing[brand] = missing.get(brand, 0) + 1
            out.append(raw)
            continue
        data = {**raw.data, "logo": str(found.resolve())}
        if data.get("subtitle") == brand:  # a feed's brand line: the logo says it
            data.pop("subtitle")
        lines = {**(raw.lines or {}), "logo": line}
        out.append(replace(raw, data=data, columns={**raw.columns, "logo": col}, lines=lines))
    notes = [neutralise(f"no logo for brand {brand!r} in {folder} (looked for {brand}.png, any case); "
                        f"{counted(n, 'SKU')} drawn without one") for brand, n in missing.items()]
    return out, notes


def _resolved(path: Path) -> Path:
    """`path` made absolute with its links followed; a symlink loop (RuntimeError on Python 3.11) or a path
    the OS refuses stays as given, absolute: it is already a problem on its row, reported before any use."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _to_row(m: RowModel, base: Path, line: int, path: Path, default_size: str, default_variants: int,
            image_at: str = "") -> SkuRow:
    style = m.style
    if style and Path(style).suffix.lower() in IMAGE_SUFFIXES:
        style = str(_resolved(base / style))
    url = m.image if is_url(m.image) else None
    image = Path(m.image) if url else _resolved(base / m.image)  # a URL's stand-in until render binds its copy
    return SkuRow(
        sku=m.sku, image=image, url=url, title=m.title, size=m.size or parse_size(default_size),
        subtitle=m.subtitle, price=m.price, badge=m.badge, subject=m.subject, style=style, prompt=m.prompt,
        template=m.template, variants=m.variants or default_variants, seed=m.seed, lang=m.lang,
        campaign=m.campaign, where=f"{path}:{line}", logo=_resolved(base / m.logo) if m.logo else None,
        points=tuple(m.points or ()), list_price=m.list_price, price_label=m.price_label,
        url_where=image_at if url else None,
    )


def load_run_manifest(path: Path, cfg: Any, sheet: str | None = None, columns: str | None = None
                      ) -> tuple[Manifest, dict]:
    """The manifest as `render` and `validate` read it: with the run's style presets, size and variants
    (`cfg`: a Config). Used by `validate` without importing the render engine."""
    from ecomctl.render.styles import load_styles

    styles = load_styles(cfg.render.styles, Path(path).parent)
    return load_manifest(path, cfg.render.size, cfg.render.variants, styles=styles, sheet=sheet,
                         columns=columns, url_hosts=cfg.input.url_hosts, logos=cfg.input.logos), styles
