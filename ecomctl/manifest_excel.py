"""Load stage, reading Excel: the first (or a named) sheet of an .xlsx workbook → the same header + records a
CSV gives, so every column and cell rule of manifest_files/manifest applies unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecomctl.errors import ManifestError
from ecomctl.manifest_files import UNREAD, Problems, RawRow, spreadsheet_kind, table_rows
from ecomctl.textsafe import neutralise

XLSX_SUFFIXES = (".xlsx", ".xlsm")
# what the workbook's parts may unpack to: a 50,000-SKU sheet is tens of MB; past this it is a zip bomb or not
# a manifest (openpyxl holds the shared strings in memory)
MAX_UNPACKED = 256 * 1024 * 1024
_ZEROS = re.compile(r"^0+$")  # a number format such as 00000: Excel shows 123 as 00123


def read_xlsx(path: Path, problems: Problems, sheet: str | None = None, columns: dict[str, str] | None = None
              ) -> tuple[list[RawRow], str, str]:
    """Rows of one sheet (the first, or `sheet`), what was read and the mapping used (`validate` says both).
    Problems name the sheet's row number and the column as Excel heads it (A, B, …)."""
    problems.letters = True
    with warnings.catch_warnings():  # openpyxl warns on stderr about styles and extensions it drops
        warnings.simplefilter("ignore")
        wb = _open(path)
        try:
            ws = _pick(wb, path, sheet)
            ws.reset_dimensions()  # a sheet may claim 16,384 formatted columns: read the cells that exist
            rows, mapping = table_rows(_records(ws, problems), problems, columns)
        except (KeyError, ValueError, TypeError, SyntaxError, zipfile.BadZipFile) as e:  # mangled parts
            raise ManifestError([_shown(path, f"cannot read the workbook: {type(e).__name__}: {e}")]) from None
        finally:
            wb.close()
    return rows, f"Excel workbook, sheet {ws.title!r}", mapping


def _shown(path: Path, msg: str) -> str:
    return neutralise(f"{path}: {msg}")


def _open(path: Path) -> Any:
    import openpyxl  # only for workbooks: `ecomctl --help` and CSV runs stay light
    from openpyxl.utils.exceptions import InvalidFileException

    with open(path, "rb") as f:
        kind = spreadsheet_kind(f.read(128))
    if kind == UNREAD[".ods"]:  # LibreOffice's own format under an Excel name (an Office 97 file: below)
        raise ManifestError([_shown(path, f"this is {kind}, not an .xlsx workbook; save it as .xlsx or CSV")])
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())  # the reader stops at these declared sizes
            binary = "xl/workbook.bin" in z.namelist()
    except zipfile.BadZipFile:
        raise ManifestError([_shown(path, "not an .xlsx workbook (no zip inside: an old .xls renamed, or a "
                                          "password-protected workbook?); save it as .xlsx or CSV")]) from None
    if binary:  # an .xlsb under an .xlsx name: openpyxl reads the XML parts only
        raise ManifestError([_shown(path, f"this is {UNREAD['.xlsb']}, not an .xlsx workbook; save it as .xlsx or CSV")])
    if unpacked > MAX_UNPACKED:
        raise ManifestError([_shown(path, f"the workbook unpacks to {unpacked / 2**20:.0f} MB, over the "
                                          f"{MAX_UNPACKED / 2**20:.0f} MB limit")])
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)  # cached values, not formulas
    except (KeyError, ValueError, TypeError, SyntaxError, zipfile.BadZipFile, InvalidFileException) as e:
        raise ManifestError([_shown(path, f"cannot read the workbook: {type(e).__name__}: {e}")]) from None


def _pick(wb: Any, path: Path, sheet: str | None) -> Any:
    names = [ws.title for ws in wb.worksheets]
    if not names:
        raise ManifestError([_shown(path, "the workbook has no worksheet")])
    if sheet is None:
        return wb.worksheets[0]
    if sheet in names:
        return wb[sheet]
    folded = [n for n in names if n.casefold() == sheet.casefold()]
    if len(folded) == 1:
        return wb[folded[0]]
    close = difflib.get_close_matches(sheet, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ManifestError([_shown(path, f"no sheet {sheet!r}{hint} (sheets: {', '.join(map(repr, names))})")])


def _records(ws: Any, problems: Problems) -> Iterator[tuple[int, list[str]]]:
    """(sheet row number, cells as text) for every row with a value; trailing empty cells dropped (a
    formatted but empty cell is no cell)."""
    limit = csv.field_size_limit()
    for cells in ws.iter_rows():
        found = [c for c in cells if c.value is not None]
        if not found:
            continue
        line, width = found[0].row, found[-1].column
        yield line, [_text(c, line, col, problems, limit) for col, c in enumerate(cells[:width], start=1)]


def _text(cell: Any, line: int, col: int, problems: Problems, limit: int) -> str:
    """A cell as the sheet shows it, as far as that is sensible for copy: 99 → "99", 19.9 → "19.9", text
    stays text (a SKU 00123 stored as text keeps its zeros; a number formatted 00000 gets them), dates ISO."""
    v = cell.value
    if v is None:
        return ""
    if cell.data_type == "e":  # #N/A, #REF!, …: a formula that failed
        problems.add(line, col, f"the cell shows the error {v}; fix the formula in the workbook")
        return ""
    text = _number(cell, v) if isinstance(v, (int, float)) and not isinstance(v, bool) else _other(v)
    if len(text) > limit:
        problems.add(line, col, f"cannot read this cell: larger than the field limit ({limit} characters)")
        return ""
    return text


def _number(cell: Any, v: float) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.15g}"  # 19.9, not 19.899999999999999 (Excel shows at most 15 digits)
    n = int(v)
    fmt = cell.number_format or ""
    return str(n).zfill(len(fmt)) if n >= 0 and _ZEROS.match(fmt) else str(n)


def _other(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, dt.datetime):
        if v.time() == dt.time():
            return v.date().isoformat()
        return v.isoformat(sep=" ", timespec="seconds" if v.second else "minutes")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)
