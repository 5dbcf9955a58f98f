"""`ecomctl validate`: exit 0 on a good manifest, exit 2 and every problem as one line on a bad one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ecomctl.cli import app
from tests.conftest import make_product, write_manifest

runner = CliRunner()


def test_validate_ok(small_manifest: Path) -> None:
    res = runner.invoke(app, ["validate", str(small_manifest)])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{small_manifest}: ok — 2 SKUs, 3 posters",
                                       "read as UTF-8 text, comma-separated"]


def test_validate_lists_all_problems_and_exits_2(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = write_manifest(tmp_path / "bad.csv", [
        {"sku": "A", "image": "p.png", "title": "ok", "size": "1024x1024"},
        {"sku": "A", "image": "gone.png", "title": "x", "size": "huge"},
    ])
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"error: {path}:3:1: sku: duplicate 'A' (first on row 2)",
        f"error: {path}:3:2: image: file not found: gone.png",
        f"error: {path}:3:4: size: bad size 'huge': use WxH (e.g. 1024x1024) or a preset",
    ]


def test_validate_bad_manifest_exact_lines(tmp_path: Path) -> None:
    make_product(tmp_path / "p.png")
    path = tmp_path / "bad.csv"
    path.write_text("sku,image,size\nA,p.png,1024x1024\nA,gone.png,huge\nB,p.png,12x9000\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"error: {path}:1:4: missing required column 'title'",
        f"error: {path}:2:1: title: required, but missing",
        f"error: {path}:3:1: sku: duplicate 'A' (first on row 2)",
        f"error: {path}:3:1: title: required, but missing",
        f"error: {path}:3:2: image: file not found: gone.png",
        f"error: {path}:3:3: size: bad size 'huge': use WxH (e.g. 1024x1024) or a preset",
        f"error: {path}:4:1: title: required, but missing",
        f"error: {path}:4:3: size: bad size '12x9000': each side must be 256..4096 px",
    ]
    assert res.stdout == ""


def test_validate_missing_manifest(tmp_path: Path) -> None:
    res = runner.invoke(app, ["validate", str(tmp_path / "none.csv")])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: {tmp_path / 'none.csv'}: manifest not found"
