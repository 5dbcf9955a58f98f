"""`ecomctl dataset build|stats|validate` through the CLI: exact exit codes and messages."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ecomctl.cli import app
from tests.test_dataset_render import render_tiny

runner = CliRunner()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    return render_tiny(tmp_path_factory.mktemp("render"))


@pytest.fixture
def corpus(rendered: Path, tmp_path: Path) -> Path:
    out = tmp_path / "corpus"
    res = runner.invoke(app, ["dataset", "build", str(rendered), "--out", str(out), "--size", "400"])
    assert res.exit_code == 0, res.output
    return out


def test_build_reports_counts_and_resumes(corpus: Path, rendered: Path):
    again = runner.invoke(app, ["dataset", "build", str(rendered), "--out", str(corpus), "--size", "400"])
    assert again.exit_code == 0, again.output
    assert "3 samples (bench 2, train 1) from 3 posters (3 unchanged)" in again.output
    assert "dropped: none; errors: 0" in again.output


def test_build_with_shards_and_pairing(rendered: Path, tmp_path: Path):
    out = tmp_path / "c"
    res = runner.invoke(app, ["dataset", "build", str(rendered), "-o", str(out), "--size", "400", "--shards",
                              "--pair-siblings", "--bench", "0"])
    assert res.exit_code == 0, res.output
    assert "3 samples (train 3)" in res.output
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["train-000000.tar"]
    with tarfile.open(out / "shards" / "train-000000.tar") as tar:
        names = tar.getnames()
        meta = json.loads(tar.extractfile("A1-v1.json").read())
    assert {f"A1-v1.{k}.png" for k in ("poster", "subject", "mask", "style", "glyph", "glyph_crops")} <= set(names)
    assert len(names) == 3 * 7 and meta["sku"] == "A1" and meta["lines"][0]["text"]
    rows = {r["id"]: r for r in pq.read_table(out / "samples.parquet").to_pylist()}
    assert rows["A1-v1"]["style_ref_id"] == "A1-v2" and rows["A1-v2"]["style_ref_id"] == "A1-v1"
    assert rows["B2-v1"]["style_ref_id"] is None and rows["B2-v1"]["style_ref"] == rows["B2-v1"]["style"]


def test_stats_prints_the_summary_and_json(corpus: Path):
    res = runner.invoke(app, ["dataset", "stats", str(corpus)])
    assert res.exit_code == 0 and "samples" in res.output and "render: 3" in res.output
    raw = runner.invoke(app, ["dataset", "stats", str(corpus), "--json"])
    assert json.loads(raw.output)["samples"] == 3


def test_validate_passes_a_sound_corpus(corpus: Path):
    res = runner.invoke(app, ["dataset", "validate", str(corpus)])
    assert res.exit_code == 0 and f"corpus {corpus} ok" in res.output


def test_validate_catches_a_missing_file(corpus: Path):
    (corpus / "images" / "glyph" / "A1-v2.png").unlink()
    res = runner.invoke(app, ["dataset", "validate", str(corpus)])
    assert res.exit_code == 1
    assert "error: A1-v2: glyph file missing: images/glyph/A1-v2.png" in res.output
    assert res.stderr.splitlines()[-1] == f"corpus {corpus} is broken: 1 problem"


def test_validate_catches_a_leaked_sku(corpus: Path):
    table = pq.read_table(corpus / "samples.parquet")
    rows = table.to_pylist()
    a1 = [r for r in rows if r["sku"] == "A1"]
    a1[0]["split"] = "train" if a1[0]["split"] == "bench" else "bench"
    pq.write_table(table.from_pylist(rows, schema=table.schema), corpus / "samples.parquet")
    res = runner.invoke(app, ["dataset", "validate", str(corpus)])
    assert res.exit_code == 1
    assert "error: SKU 'A1' leaks across splits (bench, train)" in res.output


def test_validate_catches_a_wrong_shape(corpus: Path):
    from PIL import Image

    Image.new("L", (10, 10)).save(corpus / "images" / "mask" / "B2-v1.png")
    res = runner.invoke(app, ["dataset", "validate", str(corpus)])
    assert res.exit_code == 1 and "error: B2-v1: mask is 10x10, expected 400x400" in res.output


def test_not_a_corpus_is_a_usage_error(tmp_path: Path):
    res = runner.invoke(app, ["dataset", "validate", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a folder" in res.output
    res = runner.invoke(app, ["dataset", "stats", str(tmp_path)])
    assert res.exit_code == 2 and "no stats.json (not a built corpus?" in res.output
    res = runner.invoke(app, ["dataset", "validate", str(tmp_path)])
    assert res.exit_code == 1 and "samples.parquet: missing (not a built corpus?)" in res.output


def test_a_broken_item_is_recorded_and_the_build_goes_on(rendered: Path, tmp_path: Path):
    src = tmp_path / "render"
    shutil.copytree(rendered, src)
    (src / "B2" / "B2-v1.png").write_bytes(b"not a png")
    res = runner.invoke(app, ["dataset", "build", str(src), "--out", str(tmp_path / "c"), "--size", "400"])
    assert res.exit_code == 1
    assert "2 samples" in res.output and "errors: 1" in res.output and "error: B2-v1: " in res.output
    stats = json.loads((tmp_path / "c" / "stats.json").read_text())
    assert stats["errors"] == 1 and stats["error_items"][0]["id"] == "B2-v1"


def test_config_filters_count_drops_by_reason(rendered: Path, tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset:\n  min_size: 500\n", encoding="utf-8")
    out = tmp_path / "c"
    res = runner.invoke(app, ["dataset", "build", str(rendered), "-o", str(out), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "0 samples (none) from 3 posters" in res.output and "dropped: min_size 3" in res.output
    assert json.loads((out / "stats.json").read_text())["dropped"] == {"min_size": 3}
    assert "Dropped: min_size 3" in (out / "datasheet.md").read_text()
    assert runner.invoke(app, ["dataset", "validate", str(out)]).exit_code == 0


def test_unknown_dataset_config_key_is_a_usage_error(rendered: Path, tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset:\n  min_sise: 500\n", encoding="utf-8")
    res = runner.invoke(app, ["dataset", "build", str(rendered), "-o", str(tmp_path / "c"), "--config", str(cfg)])
    assert res.exit_code == 2 and "config dataset: unknown key(s) min_sise " in res.output
