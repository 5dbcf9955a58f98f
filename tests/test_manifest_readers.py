"""Manifests as catalog teams have them, made the way their tools write them: an Excel workbook (openpyxl),
a GBK CSV (Excel on Chinese Windows), Excel's "Unicode text" (UTF-16 LE + BOM, tabs), a semicolon CSV
(European Excel), a UTF-8 CSV with BOM, a .tsv; every rule of the CSV reader holds for each."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.errors import ManifestError
from ecomctl.manifest import load_manifest
from tests.conftest import make_product

openpyxl = pytest.importorskip("openpyxl")  # a default dependency; the skip only names it when it is missing

runner = CliRunner()
FAST = "qa:\n  text:\n    enabled: false\nrender:\n  variants: 1\n  size: 256x256\n"
TITLE = "保湿面霜 长效锁水"


def _config(tmp: Path) -> Path:
    (tmp / "fast.yaml").write_text(FAST, encoding="utf-8")
    return tmp / "fast.yaml"


def _workbook(path: Path) -> Path:
    """What a catalog team's workbook looks like: a header row, a text SKU with leading zeros, a numeric
    price, a number formatted 00000, a formatted but empty trailing row, and a second sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Catalog"
    ws.append(["SKU", "Image", "Title", "Price"])
    ws.append(["00123", "p.png", TITLE, 99])
    ws.append([77, "p.png", "Travel Mug", 19.9])
    ws["A3"].number_format = "00000"
    ws["A5"].number_format = "0.00"  # a formatted empty cell: the row exists in the file, with no value
    spring = wb.create_sheet("Spring")
    spring.append(["sku", "image", "title", "price", "badge"])
    spring.append(["S-01", "p.png", "Spring Serum", 29, "新品"])
    wb.save(path)
    return path


def _texts() -> dict[str, tuple[bytes, str]]:
    """file name → (bytes as the tool writes them, what validate says it read)."""
    rows = [["sku", "image", "title", "price"], ["A1", "p.png", TITLE, "99"]]
    return {
        "gbk.csv": ("\r\n".join(",".join(r) for r in rows).encode("gbk") + b"\r\n", "GB18030 text, comma-separated"),
        "unicode.txt": (codecs.BOM_UTF16_LE + "\r\n".join("\t".join(r) for r in rows).encode("utf-16-le"),
                        "UTF-16 text, tab-separated"),
        "semicolon.csv": (("sku;image;title;price;size\r\nA1;p.png;Serum, 50 ml;29,90 €;512x512\r\n").encode(),
                          "UTF-8 text, semicolon-separated"),
        "bom.csv": (codecs.BOM_UTF8 + ("\n".join(",".join(r) for r in rows) + "\n").encode("utf-8"),
                    "UTF-8 (BOM) text, comma-separated"),
        "tabs.tsv": (("\n".join("\t".join(r) for r in rows) + "\n").encode("utf-8"), "UTF-8 text, tab-separated"),
    }


# ------------------------------------------------------------------------------------------------- Excel

def test_xlsx_cells_as_the_sheet_shows_them(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    m = load_manifest(_workbook(tmp_path / "catalog.xlsx"))
    assert [(r.sku, r.title, r.price) for r in m.rows] == [("00123", TITLE, "99"), ("00077", "Travel Mug", "19.9")]
    assert m.rows[1].where == f"{tmp_path / 'catalog.xlsx'}:3"  # the sheet's row number
    assert m.source == "Excel workbook, sheet 'Catalog'"
    spring = load_manifest(tmp_path / "catalog.xlsx", sheet="spring")  # the name ignoring case, when unique
    assert [(r.sku, r.price, r.badge) for r in spring.rows] == [("S-01", "29", "新品")]


def test_xlsx_second_sheet_renders(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    book = _workbook(tmp_path / "catalog.xlsx")
    res = runner.invoke(app, ["render", str(book), "--sheet", "Spring", "--out", str(tmp_path / "out"),
                              "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert "pass    S-01-v1" in res.stdout.splitlines()
    assert (tmp_path / "out" / "S-01" / "S-01-v1.png").is_file()


def test_xlsx_validate_says_what_it_read(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    book = _workbook(tmp_path / "catalog.xlsx")
    res = runner.invoke(app, ["validate", str(book), "--sheet", "Spring", "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{book}: ok — 1 SKU, 1 poster", "read as Excel workbook, sheet 'Spring'"]


def test_xlsx_problems_name_sheet_row_and_column_letter(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["sku", "image", "title", "size", "title"])
    ws.append(["A", "p.png", "Good", "1024x1024"])
    ws.append([])  # an empty row between: skipped, the next keeps its sheet row number
    ws.append(["B", "gone.png", "a\tb", "huge"])
    ws.append(["C", "p.png", "#N/A"])  # openpyxl stores this as an error cell, as Excel does for a failed formula
    path = tmp_path / "bad.xlsx"
    wb.save(path)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"error: {path}:1:E: duplicate column 'title' (first in column C)",
        f"error: {path}:4:B: image: file not found: gone.png",
        f"error: {path}:4:C: title: control character U+0009 (tab) at character 2; remove it",
        f"error: {path}:4:D: size: bad size 'huge': use WxH (e.g. 1024x1024) or a preset",
        f"error: {path}:5:C: the cell shows the error #N/A; fix the formula in the workbook",
        f"error: {path}:5:C: title: required, but empty",
    ]


@pytest.mark.parametrize(("args", "message"), [
    (["--sheet", "Autumn"], "{book}: no sheet 'Autumn' (sheets: 'Catalog', 'Spring')"),
    (["--sheet", "Sprung"], "{book}: no sheet 'Sprung'; did you mean 'Spring'? (sheets: 'Catalog', 'Spring')"),
])
def test_xlsx_unknown_sheet(tmp_path: Path, args: list[str], message: str) -> None:
    book = _workbook(tmp_path / "catalog.xlsx")
    res = runner.invoke(app, ["validate", str(book), *args])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == ["error: " + message.format(book=book)]


def test_sheet_of_a_csv_and_files_that_are_not_workbooks(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("sku,image,title\n", encoding="utf-8")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")  # an OLE2 file, as Excel 97-2003 writes
    (tmp_path / "fake.xlsx").write_text("sku,image,title\n", encoding="utf-8")
    _workbook(tmp_path / "zipped.csv")  # a workbook under a text name
    cases = {
        ("m.csv", "--sheet", "A"): "m.csv: a sheet ('A') can only be picked in an Excel workbook (.xlsx); "
                                   "this manifest is text",
        ("old.xls",): "old.xls: an Excel 97-2003 workbook (.xls) is not read; save it as .xlsx or CSV",
        ("fake.xlsx",): "fake.xlsx: not an .xlsx workbook (no zip inside: an old .xls renamed, or a "
                        "password-protected workbook?); save it as .xlsx or CSV",
        ("zipped.csv",): "zipped.csv: this is an Excel workbook (or another zip file), not text; name it .xlsx "
                         "to read it as a workbook",
    }
    for (name, *extra), message in cases.items():
        res = runner.invoke(app, ["validate", str(tmp_path / name), *extra])
        assert (res.exit_code, res.stderr.splitlines()) == (2, [f"error: {tmp_path}/{message}"]), name


def _ods(path: Path) -> Path:
    """An OpenDocument spreadsheet as LibreOffice Calc writes it: a zip whose first entry, stored, is
    `mimetype` (the content is beside the point: it is never read)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>", compress_type=zipfile.ZIP_DEFLATED)
    return path


@pytest.mark.parametrize("command", ["validate", "render", "extract"])
def test_spreadsheets_that_are_not_read_are_one_line_each(tmp_path: Path, command: str) -> None:
    """A LibreOffice .ods, an old .xls (or an encrypted workbook: the same Office 97 container), also when
    saved under another name: one line naming what the file is and what to save it as, exit 2."""
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    _ods(tmp_path / "catalog.ods")
    _ods(tmp_path / "calc.csv")
    _ods(tmp_path / "calc.xlsx")
    (tmp_path / "old.csv").write_bytes(ole2)
    (tmp_path / "catalog.numbers").write_bytes(b"PK\x03\x04")
    for name in ("binary.xlsb", "binary.xlsx", "binary.csv"):  # what Excel's "Binary Workbook" writes, in short
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    ods, xls = "an OpenDocument spreadsheet (.ods, LibreOffice Calc)", "an Excel 97-2003 workbook (.xls)"
    cases = {
        "catalog.ods": f"catalog.ods: {ods} is not read; save it as .xlsx or CSV",
        "calc.csv": f"calc.csv: this is {ods}, not text; save it as .xlsx or CSV",
        "calc.xlsx": f"calc.xlsx: this is {ods}, not an .xlsx workbook; save it as .xlsx or CSV",
        "old.csv": f"old.csv: this is {xls} or a password-protected workbook, not text; save it as .xlsx or CSV",
        "catalog.numbers": "catalog.numbers: an Apple Numbers document is not read; save it as .xlsx or CSV",
        "binary.xlsb": "binary.xlsb: an Excel binary workbook (.xlsb) is not read; save it as .xlsx or CSV",
        "binary.xlsx": "binary.xlsx: this is an Excel binary workbook (.xlsb), not an .xlsx workbook; save it as "
                       ".xlsx or CSV",
        "binary.csv": "binary.csv: this is an Excel binary workbook (.xlsb), not text; save it as .xlsx or CSV",
    }
    for name, message in cases.items():
        res = runner.invoke(app, [command, str(tmp_path / name), "--out", str(tmp_path / "out")][:2 if command == "validate" else 4])
        assert (res.exit_code, res.stderr.splitlines()) == (2, [f"error: {tmp_path}/{message}"]), name
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------- encodings, delimiters

@pytest.mark.parametrize("name", list(_texts()))
def test_text_manifest_validates_and_says_how_it_was_read(tmp_path: Path, name: str) -> None:
    make_product(tmp_path / "p.png")
    data, read_as = _texts()[name]
    (tmp_path / name).write_bytes(data)
    res = runner.invoke(app, ["validate", str(tmp_path / name), "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{tmp_path / name}: ok — 1 SKU, 1 poster", f"read as {read_as}"]
    row = load_manifest(tmp_path / name).rows[0]
    if name == "semicolon.csv":  # commas inside cells are text, not a delimiter
        assert (row.title, row.price) == ("Serum, 50 ml", "29,90 €")
    else:
        assert (row.sku, row.title, row.price) == ("A1", TITLE, "99")


@pytest.mark.parametrize("name", ["gbk.csv", "unicode.txt", "semicolon.csv", "bom.csv"])
def test_text_manifest_renders(tmp_path: Path, name: str) -> None:
    make_product(tmp_path / "p.png")
    (tmp_path / name).write_bytes(_texts()[name][0])
    res = runner.invoke(app, ["render", str(tmp_path / name), "--out", str(tmp_path / "out"),
                              "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "A1" / "A1-v1.png").is_file()


# what old Excel's "CSV" writes on Western Windows (Windows-1252: € is byte 0x80) and on Chinese Windows (GBK);
# most accented Western text also decodes as GB18030, as mojibake ("Crème" → "Cr鑝e"), which must not win
WESTERN = ["Crème hydratante", "Crème 19,90 €", "Größe XL für Männer", "Straße", "Élégance – “Café” naïve",
           "Año niño", "Smørbrød Ærø", "Eau de Toilette «Été»", "50°C ±2 ½ µl", "Ü"]
CHINESE = [TITLE, "Nike运动鞋 Air Max 男款", "T恤", "新品", "喆 T恤 ，「」", "特价 99元"]


@pytest.mark.parametrize(("title", "encoding", "read_as"), [*((t, "cp1252", "Windows-1252 (Western)") for t in WESTERN),
                                                             *((t, "gbk", "GB18030") for t in CHINESE)])
def test_a_windows_csv_reads_right_whichever_language(tmp_path: Path, title: str, encoding: str,
                                                      read_as: str) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "m.csv"
    path.write_bytes(f"sku;image;title\r\nA1;p.png;{title}\r\n".encode(encoding))
    m = load_manifest(path)
    assert (m.rows[0].title, m.source) == (title, f"{read_as} text, semicolon-separated")


def test_validate_says_a_western_csv_was_read_as_windows_1252(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "crème.csv"
    path.write_bytes("sku;image;title;price\r\nC-1;p.png;Crème hydratante;19,90 €\r\n".encode("cp1252"))
    res = runner.invoke(app, ["validate", str(path), "--config", str(_config(tmp_path))])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{path}: ok — 1 SKU, 1 poster",
                                       "read as Windows-1252 (Western) text, semicolon-separated"]
    assert load_manifest(path).rows[0].price == "19,90 €"


def test_a_utf8_file_with_a_line_in_windows_1252_is_refused_not_read_as_mojibake(tmp_path: Path) -> None:
    """Read as Windows-1252, the UTF-8 rows would turn into mojibake (Crème → CrÃ¨me): one line instead."""
    make_product(tmp_path / "p.png")
    path = tmp_path / "m.csv"
    path.write_bytes("sku,image,title\nA,p.png,Crème\n".encode() + "B,p.png,Crème\n".encode("cp1252"))
    res = runner.invoke(app, ["validate", str(path)])
    assert (res.exit_code, res.stderr.splitlines()) == (2, [
        (f"error: {path}: UTF-8 text but for byte 0xe8 at offset 41 (a line pasted from a file in another "
         "encoding?); save the manifest as UTF-8")])


def test_every_rule_holds_for_a_semicolon_gbk_file(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "m.csv"
    path.write_bytes('sku;image;title;title\r\nA;p.png;"坏\x1b";x\r\nA;p.png;"未闭合\r\n'.encode("gbk"))
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [
        f"{path}:1:4: duplicate column 'title' (first in column 3)",
        f"{path}:2:3: title: control character U+001B (ESC) at character 2; remove it",
        f'{path}:3:1: cannot read this row: a quoted cell opened on this row is never closed (unbalanced ")',
    ]


def test_bytes_no_encoding_fits(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + b"s\x00k")  # odd length: not UTF-16 after all
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [(f"{path}: starts with a UTF-16 byte-order mark but is not UTF-16 text (byte 0x6b "
                                "at offset 4); save the manifest as UTF-8")]


def test_utf16_without_bom_is_named(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes("sku,image,title\r\nA,p.png,t\r\n".encode("utf-16-le"))
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [(f'{path}: looks like UTF-16 text without a byte-order mark; save the manifest as '
                                'UTF-8 (or as Excel "Unicode text", which writes the mark)')]



def test_validate_help_names_the_readers() -> None:
    res = runner.invoke(app, ["validate", "--help"])
    assert res.exit_code == 0
    assert "Excel workbook (.xlsx)" in res.stdout and "--sheet" in res.stdout and "GB18030" in res.stdout
