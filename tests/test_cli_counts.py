"""Summary lines say a count with its noun in the right number: `1 poster`, `1 SKU`, `1 error`, `2 posters`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.outcome import counted
from tests.conftest import make_product, write_manifest

runner = CliRunner()


@pytest.mark.parametrize("word", ["SKU", "poster", "error", "item", "sample", "problem", "file", "image", "line"])
def test_a_count_of_one_is_singular_and_any_other_plural(word: str):
    assert [counted(n, word) for n in (0, 1, 2)] == [f"0 {word}s", f"1 {word}", f"2 {word}s"]


def _one(tmp_path: Path, image: str) -> Path:
    return write_manifest(tmp_path / "m.csv", [{"sku": "ONE", "image": image, "title": "One", "size": "256x256",
                                                "variants": "1"}])


def test_render_of_one_poster_says_one_poster_one_item_and_one_error(tmp_path: Path, fast_config: Path):
    make_product(tmp_path / "p.png")
    out = tmp_path / "out"
    res = runner.invoke(app, ["render", str(_one(tmp_path, "p.png")), "-o", str(out), "-c", str(fast_config)])
    assert res.exit_code == 0, res.output
    assert re.search(r"^QA: 1 item — 1 pass\s*$", res.stdout, re.MULTILINE), res.stdout
    assert re.search(rf"^1 poster in \d+\.\ds \(pass 1\); report: {re.escape(str(out / 'report.html'))}$",
                     res.stdout, re.MULTILINE), res.stdout
    (tmp_path / "broken.png").write_bytes(b"not a png")
    res = runner.invoke(app, ["render", str(_one(tmp_path, "broken.png")), "-o", str(tmp_path / "bad"),
                              "-c", str(fast_config), "-q"])
    assert res.exit_code == 1
    assert res.stdout.splitlines()[-1] == f"0 failed, 1 error of 1 poster; report: {tmp_path / 'bad' / 'report.html'}"


def test_extract_of_one_sku_says_one_sku(tmp_path: Path):
    make_product(tmp_path / "p.png")
    dest = tmp_path / "cut"
    res = runner.invoke(app, ["extract", str(_one(tmp_path, "p.png")), "-o", str(dest), "-m", "alpha"])
    assert res.exit_code == 0, res.output
    assert re.search(rf"^1 SKU in \d+\.\ds \(1 ok, 0 failed\); contact sheet: {re.escape(str(dest))}/", res.stdout,
                     re.MULTILINE), res.stdout
