"""Load stage, reading: CSV/TSV/YAML manifest text (Excel: manifest_excel.py) → RawRow values that remember
where each field came from."""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ecomctl import yamlio
from ecomctl.errors import ManifestError
from ecomctl.textsafe import neutralise

FIELDS = ("sku", "image", "title", "subtitle", "price", "badge", "subject", "style", "prompt",
          "size", "template", "variants", "seed", "lang", "campaign", "logo", "points", "list_price",
          "price_label")
REQUIRED = ("sku", "image", "title")


@dataclass(frozen=True)
class RawRow:
    """A row as read from the file, with where each field came from."""

    data: dict[str, Any]
    line: int
    columns: dict[str, int]  # field → column number (1-based)
    lines: dict[str, int] | None = None  # field → line, where fields sit on their own lines (YAML)
    bad: frozenset[str] = frozenset()  # fields already reported while reading (e.g. a refused YAML tag)
    brand: tuple[str, int, int] | None = None  # a shop export's brand (Vendor, brand), its line and column

    def at(self, field: str) -> tuple[int, int]:
        return (self.lines or {}).get(field, self.line), self.columns.get(field, 1)


class Problems:
    def __init__(self, path: Path):
        self.path, self.items = path, set()
        self.letters = False  # columns named as a spreadsheet heads them (A, B, … AA): Excel manifests

    def add(self, line: int, col: int, msg: str) -> None:
        # the file name may be anything the user typed; messages never carry raw control characters
        self.items.add((line, col, neutralise(f"{self.where(line, col)}: {msg}")))

    def where(self, line: int, col: int) -> str:
        """`file:row:column` as problems name a cell (column letters in an Excel workbook)."""
        return f"{self.path}:{line}:{column_letter(col) if self.letters else col}"

    def raise_if_any(self) -> None:
        if self.items:
            raise ManifestError([m for _, _, m in sorted(self.items)])


def column_letter(col: int) -> str:
    """1 → A, 26 → Z, 27 → AA: the column heading a spreadsheet shows."""
    name = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        name = chr(ord("A") + rem) + name
    return name


def decode_text(data: bytes) -> tuple[str, str]:
    """A text manifest's bytes as text, and the encoding's name. UTF-8 (with or without BOM) first; UTF-16
    with a BOM (Excel's "Unicode text"); else the two encodings Excel's "CSV" writes on Windows in the
    languages our catalogs come in: GB18030, a superset of GBK (Chinese Windows), or Windows-1252 (Western
    Windows: `Crème 19,90 €`, € as byte 0x80). Most Windows-1252 text with accents also decodes as GB18030,
    as mojibake (`Crème` → `Cr鑝e`), so when both decode `_looks_chinese` decides. Raises the UTF-8 (or
    UTF-16) UnicodeDecodeError when none fits, so the message points at the first byte that is not UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8-sig"), "UTF-8 (BOM)" if data.startswith(codecs.BOM_UTF8) else "UTF-8"
    except UnicodeDecodeError as utf8:
        chinese = western = None
        with contextlib.suppress(UnicodeDecodeError):
            chinese = data.decode("gb18030")
        with contextlib.suppress(UnicodeDecodeError):
            western = data.decode("cp1252")
        if western is not None and "\x00" in western:  # binary (a photo named .csv): not Western text
            western = None
        if chinese is not None and (western is None or _looks_chinese(chinese)):
            return chinese, "GB18030"
        if western is not None and not _UTF8_SEQUENCE.search(data):
            return western, "Windows-1252 (Western)"
        if western is not None:  # UTF-8 text with a stray line in another encoding: reading it all as
            # Windows-1252 would turn every UTF-8 accent into mojibake (è → Ã¨)
            raise UnicodeDecodeError(utf8.encoding, utf8.object, utf8.start, utf8.end, MIXED) from None
        raise utf8 from None


MIXED = "mixed with UTF-8"  # the reason of the decode error raised for a file that is UTF-8 but for a few bytes
# a UTF-8 encoded character (two to four bytes): Windows-1252 text hardly ever holds one (`Ã©` is `é` in UTF-8)
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_INSIDE_A_WORD = re.compile(r"(?<=[A-Za-z])[^\x00-\x7f](?=[A-Za-z])")  # one character between Latin letters


def _looks_chinese(text: str) -> bool:
    """Whether text that decoded as GB18030 reads as Chinese rather than as Windows-1252 mojibake. Chinese
    from Excel is mostly characters of GB2312 (the common set: every byte of them is 0xA1 or above) in runs;
    an accented Western letter is one high byte followed by an ASCII letter, which GB18030 pairs into a rare
    character (`è` + `m` → `鑝`), and two accented letters in a row (`öß`) into a common one sitting alone
    inside a Latin word (`Gr鲞e`). Chinese wins when its common characters outnumber those (a Chinese file
    whose only Chinese is one rare character, such as `喆`, reads as Windows-1252: save it as UTF-8)."""
    every = Counter(_NON_ASCII.findall(text))
    inside = Counter(_INSIDE_A_WORD.findall(text))
    common = sum(n - inside[ch] for ch, n in every.items() if _in_gb2312(ch))
    rare = sum(every.values()) - common
    return common > rare


# spreadsheets no reader here reads (openpyxl reads .xlsx only; .ods would need odfpy, .xls xlrd, .xlsb pyxlsb):
# one line each
UNREAD = {".xls": "an Excel 97-2003 workbook (.xls)", ".xlsb": "an Excel binary workbook (.xlsb)",
          ".ods": "an OpenDocument spreadsheet (.ods, LibreOffice Calc)",
          ".fods": "an OpenDocument spreadsheet (.fods, LibreOffice Calc)", ".numbers": "an Apple Numbers document"}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (and other Office 97 files)
_ODS = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"  # an ODF zip's first entry, stored


def spreadsheet_kind(data: bytes) -> str | None:
    """What spreadsheet these bytes are, whatever the file is named, for the kinds no reader here reads (an
    Office 97 container: an .xls, or an .xlsx encrypted by a password; an .ods); None for anything else."""
    if data.startswith(_OLE2):
        return f"{UNREAD['.xls']} or a password-protected workbook"
    if data.startswith(b"PK\x03\x04") and data[30:30 + len(_ODS)] == _ODS:
        return UNREAD[".ods"]
    return None


def _zip_holds(data: bytes, name: str) -> bool:
    """Whether the zip archive in `data` has a member `name` (False for a zip that cannot be read)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return name in z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def sniff_delimiter(text: str, tsv: bool = False) -> str:
    """The delimiter the header line uses most (outside quotes): comma, semicolon (European Excel) or tab
    (Excel "Unicode text", .tsv). Counting on the header is enough: its cells are our field names, which
    hold none of these; a tie (one column) is a comma, or a tab for .tsv."""
    header = re.sub(r'"[^"]*"', "", re.split(r"[\r\n]", text, maxsplit=1)[0])
    counts = {d: header.count(d) for d in DELIMITERS}
    order = ("\t", ",", ";") if tsv else (",", ";", "\t")
    return max(order, key=lambda d: counts[d])  # max keeps the first of equals: the preferred one


def read_csv(path: Path, problems: Problems, columns: dict[str, str] | None = None
             ) -> tuple[list[RawRow], str, str]:
    """Rows of a CSV/TSV manifest, what it was read as (encoding, delimiter) and the mapping used (a shop
    export's, --columns', or "") for `validate` to say."""
    data = path.read_bytes()
    kind = spreadsheet_kind(data)
    if kind is not None:
        raise ManifestError([neutralise(f"{path}: this is {kind}, not text; save it as .xlsx or CSV")])
    if data.startswith(b"PK\x03\x04"):
        if _zip_holds(data, "xl/workbook.bin"):
            raise ManifestError([neutralise(f"{path}: this is {UNREAD['.xlsb']}, not text; save it as .xlsx or CSV")])
        raise ManifestError([neutralise(f"{path}: this is an Excel workbook (or another zip file), not text; "
                                        "name it .xlsx to read it as a workbook")])
    text, encoding = decode_text(data)
    if "\x00" in text[:200].split("\n", 1)[0]:  # "s\0k\0u\0": every other byte NUL in the header
        raise ManifestError([neutralise(f"{path}: looks like UTF-16 text without a byte-order mark; save the "
                                        "manifest as UTF-8 (or as Excel \"Unicode text\", which writes the mark)")])
    delimiter = sniff_delimiter(text, tsv=path.suffix.lower() == ".tsv")
    # csv sees the text as written (newline=""), so a quoted newline stays in its cell, and only \r / \n
    # end a record (str.splitlines would also split on U+2028, form feed, … inside a quoted field)
    # strict: an unbalanced quote is an error, not a cell that silently swallows every row after it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows, mapping = table_rows(_records(reader, problems), problems, columns)
    return rows, f"{encoding} text, {DELIMITERS[delimiter]}-separated", mapping


def table_rows(records: Iterator[tuple[int, list[str]]], problems: Problems,
               columns: dict[str, str] | None = None) -> tuple[list[RawRow], str]:
    """A header record, then one record per SKU (blank ones skipped): every reader of tables (CSV, TSV,
    Excel) goes through here, so the column rules are the same for all of them. A shop export recognised
    by its header, or a table read through `columns` (--columns), is mapped by manifest_exports; the
    second value says which mapping was used ("" for a table in manifest fields)."""
    from ecomctl.manifest_exports import map_table  # it builds on this module's RawRow and Problems

    head_line, head = next(records, (1, []))
    header = [h.strip().lower() for h in head]
    if not header:
        if not problems.items:  # not when bad quoting already ended the reading
            problems.add(1, 1, "manifest is empty (expected a header row)")
        return [], ""
    mapped = map_table(head_line, head, records, problems, columns)
    if mapped is not None:
        return mapped.rows, mapped.used
    cols: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name in cols:
            problems.add(head_line, i, f"duplicate column {name!r} (first in column {_col(problems, cols[name])})")
        else:
            cols[name] = i
    for name in REQUIRED:
        if name not in cols:
            problems.add(head_line, len(header) + 1, f"missing required column {name!r}")
    for name, i in cols.items():
        if name not in FIELDS:
            problems.add(head_line, i, unknown_column(name))
    rows = []
    for line, values in records:
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            problems.add(line, len(header) + 1, f"{len(values)} cells but the header has {len(header)}")
        data = {h: values[i - 1] for h, i in cols.items() if h in FIELDS and i <= len(values)}
        rows.append(RawRow(data, line, {k: v for k, v in cols.items() if k in FIELDS}))
    return rows, ""


def _col(problems: Problems, col: int) -> str:
    return column_letter(col) if problems.letters else str(col)


def _records(reader: Any, problems: Problems) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, cells); a record with quoted newlines spans several lines. Bad quoting
    ends the reading with one problem at the row where it starts (what follows cannot be trusted)."""
    start = 1
    try:
        for values in reader:
            yield start, values
            start = reader.line_num + 1
    except csv.Error as e:
        why = str(e)
        if "unexpected end of data" in why:
            why = 'a quoted cell opened on this row is never closed (unbalanced ")'
        elif "expected after" in why:
            why = 'text after the closing quote of a cell; write a quote inside a quoted cell as ""'
        problems.add(start, 1, f"cannot read this row: {why}")


def unknown_column(name: str) -> str:
    close = difflib.get_close_matches(name, FIELDS, n=1)
    return f"unknown column {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")


_BAD = object()  # a value that could not be constructed (already reported)
_MERGE = "tag:yaml.org,2002:merge"


def _construct(loader: yamlio.BoundedLoader, node: yaml.Node, problems: Problems, field: str = "") -> Any:
    try:
        return yamlio.construct(loader, node)
    except yamlio.YamlProblem as e:
        problems.add(e.line, e.column, f"{field}: {e.message}" if field else e.message)
        return _BAD


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _yaml_fields(loader: yamlio.BoundedLoader, node: yaml.MappingNode, problems: Problems
                 ) -> tuple[dict[str, Any], dict[str, tuple[int, int]], set[str]]:
    """field → value, field → (line, column), fields that failed; `<<: *anchor` merges fill in what the
    mapping does not set itself; a key given twice is an error (PyYAML would silently keep the last)."""
    data: dict[str, Any] = {}
    where: dict[str, tuple[int, int]] = {}
    bad: set[str] = set()
    merged: dict[str, tuple[Any, tuple[int, int]]] = {}
    for knode, vnode in node.value:
        if knode.tag == _MERGE:
            value = _construct(loader, vnode, problems, "<<")
            parts = value if isinstance(value, list) else [value]
            if value is not _BAD and not all(isinstance(d, dict) for d in parts):
                problems.add(*_mark(knode), "<<: a merge needs a mapping (an anchored row or defaults)")
            for d in (p for p in parts if isinstance(p, dict)):
                for k, v in d.items():
                    merged.setdefault(str(k).strip().lower(), (v, _mark(knode)))
            continue
        if not isinstance(knode, yaml.ScalarNode):
            problems.add(*_mark(knode), "field names must be plain text")
            continue
        key = str(knode.value).strip().lower()
        if key in where:
            problems.add(*_mark(knode), f"{key}: given twice in this mapping (first on line {where[key][0]})")
            continue
        value = _construct(loader, vnode, problems, key)
        data[key], where[key] = (None if value is _BAD else value), _mark(knode)
        if value is _BAD:
            bad.add(key)
    for key, (value, at) in merged.items():
        if key not in where:
            data[key], where[key] = value, at
    return data, where, bad


def read_yaml(path: Path, problems: Problems) -> tuple[list[RawRow], str, str]:
    """Rows of a YAML manifest, what it was read as (its encoding), and no mapping (its keys are fields)."""
    text, encoding = decode_text(path.read_bytes())
    return _yaml_rows(text, problems), f"{encoding} YAML", ""


def _yaml_rows(text: str, problems: Problems) -> list[RawRow]:
    try:
        root, loader = yamlio.compose(text)
    except yamlio.YamlProblem as e:
        problems.add(e.line, e.column, e.message)
        return []
    defaults: dict[str, Any] = {}
    d_where: dict[str, tuple[int, int]] = {}
    items = root
    if isinstance(root, yaml.MappingNode):
        top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
        if "skus" not in top:
            problems.add(root.start_mark.line + 1, 1, "expected a list of rows or `defaults:` + `skus:`")
            return []
        items = top["skus"]
        for knode, _ in root.value:
            if knode.value not in ("skus", "defaults"):
                problems.add(*_mark(knode), f"unknown top-level key {str(knode.value)!r} (expected `defaults:` "
                             "and `skus:`; anchors to reuse can live in `defaults:`)")
        if "defaults" in top:
            defaults, d_where = _read_defaults(loader, top["defaults"], problems)
    if not isinstance(items, yaml.SequenceNode):
        problems.add(*(_mark(items) if items is not None else (1, 1)), "expected a list of SKU rows")
        return []
    rows = []
    for node in items.value:
        if not isinstance(node, yaml.MappingNode):
            problems.add(*_mark(node), "each row must be a mapping of field: value")
            continue
        data, where, bad = _yaml_fields(loader, node, problems)
        for key in [k for k in data if k not in FIELDS]:
            problems.add(*where[key], unknown_column(key))
            del data[key], where[key]
        at = {**d_where, **where}
        rows.append(RawRow({**defaults, **data}, node.start_mark.line + 1, {k: c for k, (_, c) in at.items()},
                           {k: ln for k, (ln, _) in at.items()}, frozenset(bad)))
    return rows


def _read_defaults(loader: yamlio.BoundedLoader, node: yaml.Node, problems: Problems
                   ) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return {}, {}
    if not isinstance(node, yaml.MappingNode):
        problems.add(*_mark(node), "defaults: must be a mapping of field: value (e.g. `size: story`)")
        return {}, {}
    data, where, _ = _yaml_fields(loader, node, problems)
    for key in list(data):
        if key not in FIELDS or key in ("sku", "image"):
            problems.add(*where[key], f"defaults: {unknown_column(key)}" if key not in FIELDS
                         else f"defaults: {key!r} cannot have a default (it differs per row)")
            del data[key], where[key]
    return data, where
