"""The brand fields of a manifest row: logo, selling points, list price and price label (CSV, YAML,
defaults, Excel) and their problems, each as file:row:column."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.errors import ManifestError
from ecomctl.manifest import load_manifest
from ecomctl.store.sidecar import row_from_json, row_json
from tests.conftest import make_product, write_manifest

runner = CliRunner()


def _files(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    make_product(tmp_path / "logo.png", (200, 80))


def test_csv_points_are_split_at_bars_and_logo_resolves(tmp_path: Path) -> None:
    _files(tmp_path)
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "image": "p.png", "title": "奶粉", "price": "¥328", "list_price": "¥398",
         "price_label": "到手价", "logo": "logo.png", "points": " 含HMO母乳低聚糖 | 0添加蔗糖|Stage 3 "},
    ])
    (row,) = load_manifest(path).rows
    assert row.points == ("含HMO母乳低聚糖", "0添加蔗糖", "Stage 3")
    assert row.logo == (tmp_path / "logo.png").resolve()
    assert (row.list_price, row.price_label) == ("¥398", "到手价")
    assert row.copy_lines() == {"title": "奶粉", "price_label": "到手价", "price": "¥328", "list_price": "¥398",
                                "point1": "含HMO母乳低聚糖", "point2": "0添加蔗糖", "point3": "Stage 3"}


def test_yaml_points_list_and_logo_in_defaults(tmp_path: Path) -> None:
    _files(tmp_path)
    path = tmp_path / "m.yaml"
    path.write_text("defaults:\n  logo: logo.png\n  price_label: Now\nskus:\n"
                    "  - sku: A\n    image: p.png\n    title: T\n    price: $39\n    points: [Light, 12 h wear]\n"
                    "  - sku: B\n    image: p.png\n    title: U\n    price: $9\n    logo: ''\n", encoding="utf-8")
    a, b = load_manifest(path).rows
    assert a.points == ("Light", "12 h wear") and a.logo == (tmp_path / "logo.png").resolve()
    assert a.price_label == "Now" and b.points == () and b.logo is None


def test_rows_without_brand_fields_keep_their_sidecar_inputs(tmp_path: Path) -> None:
    """Old rows: the inputs (and so the render key) carry none of the new fields; new rows round-trip."""
    _files(tmp_path)
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "image": "p.png", "title": "T", "price": "¥9", "logo": "", "points": ""},
        {"sku": "B", "image": "p.png", "title": "T", "price": "¥9", "list_price": "¥12", "logo": "logo.png",
         "points": "a|b"},
    ])
    a, b = load_manifest(path).rows
    assert not {"logo", "points", "list_price", "price_label"} & set(row_json(a))
    assert row_from_json(row_json(a)) == a and row_from_json(row_json(b)) == b
    assert row_json(b)["points"] == ["a", "b"] and row_json(b)["logo"] == str(b.logo)


def test_brand_field_problems_exact_lines(tmp_path: Path) -> None:
    _files(tmp_path)
    (tmp_path / "logo.txt").write_text("x")
    (tmp_path / "dir.png").mkdir()
    long_cjk = "含母乳低聚糖更好吸收的配方奶"  # 14 CJK characters: 28 columns
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "image": "p.png", "title": "t", "price": "", "list_price": "¥398", "price_label": "到手价",
         "logo": "nope.png", "points": ""},
        {"sku": "B", "image": "p.png", "title": "t", "price": "¥328", "list_price": "¥328", "price_label": "",
         "logo": "logo.txt", "points": "a||b"},
        {"sku": "C", "image": "p.png", "title": "t", "price": "¥428", "list_price": "¥398", "price_label": "",
         "logo": "dir.png", "points": "a|b|c|d|e"},
        {"sku": "D", "image": "p.png", "title": "t", "price": "¥1", "list_price": "", "price_label": "",
         "logo": "https://example.com/l.png", "points": f"ok|{long_cjk}"},
    ])
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [
        f"{path}:2:5: list_price: given without a price; list_price is drawn with the price",
        f"{path}:2:6: price_label: given without a price; price_label is drawn with the price",
        f"{path}:2:7: logo: file not found: nope.png",
        (f"{path}:3:5: list_price: ¥328 equals the price; a struck-through price equal to the price says nothing: "
         "leave list_price empty"),
        f"{path}:3:7: logo: not an image file: logo.txt",
        f"{path}:3:8: points: point 2 is empty (two '|' in a row, or one at an end?)",
        f"{path}:4:5: list_price: ¥398 is below the price ¥428; the list price is the price before the discount",
        f"{path}:4:7: logo: a folder, not a file: dir.png",
        f"{path}:4:8: points: 5 points; at most 4",
        f"{path}:5:7: logo: a URL is not read; save the logo next to the manifest and give its path",
        (f"{path}:5:8: points: point 2 '含母乳低聚糖更好吸收的配方奶' is 28 columns wide; at most 24 (a CJK "
         "character counts 2), so that it fits one line of the list"),
    ]


def test_yaml_point_problems_name_the_line(tmp_path: Path) -> None:
    _files(tmp_path)
    path = tmp_path / "m.yaml"
    path.write_text("- sku: A\n  image: p.png\n  title: t\n  points:\n    - ok\n    - {a: 1}\n"
                    "- sku: B\n  image: p.png\n  title: t\n  points: \"one\\ttwo\"\n", encoding="utf-8")
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    assert e.value.problems == [
        f"{path}:4:3: points: point 2 is not text",
        f"{path}:10:3: points: control character U+0009 (tab) at character 4; remove it",
    ]


def test_validate_cli_says_each_bad_brand_value(tmp_path: Path) -> None:
    _files(tmp_path)
    path = write_manifest(tmp_path / "m.csv", [
        {"sku": "A", "image": "p.png", "title": "t", "price": "$39", "list_price": "$39.00", "logo": "logo.png"},
        {"sku": "B", "image": "p.png", "title": "t", "price": "$39", "list_price": "$49", "logo": "gone.png"},
    ])
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        (f"error: {path}:2:5: list_price: $39.00 equals the price; a struck-through price equal to the price "
         "says nothing: leave list_price empty"),
        f"error: {path}:3:6: logo: file not found: gone.png",
    ]


def test_excel_manifest_reads_brand_columns(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    _files(tmp_path)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["sku", "image", "title", "price", "list_price", "points", "logo"])
    ws.append(["A", "p.png", "t", 328, 398, "甲|乙", "logo.png"])
    wb.save(tmp_path / "m.xlsx")
    (row,) = load_manifest(tmp_path / "m.xlsx").rows
    assert (row.price, row.list_price, row.points) == ("328", "398", ("甲", "乙"))
