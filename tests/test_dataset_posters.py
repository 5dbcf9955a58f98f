"""`dataset build` from a folder of found posters (made here with varied fonts, not our renderer):
OCR recovers the copy, the subject chain finds the product, the corpus loads with pandas and datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ecomctl.dataset import build_corpus, settings_from, validate_corpus
from ecomctl.qa.metrics import ned
from tests.synth_posters import make_posters

N_POSTERS = 6


@pytest.fixture(scope="module")
def posters(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("posters")
    make_posters(folder, N_POSTERS, seed=3)
    return folder


@pytest.fixture(scope="module")
def corpus(posters: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    report = build_corpus(posters, out, settings_from(size=512, workers=2, shards=True, pair_siblings=True))
    assert report.items == N_POSTERS and not report.errors, report
    return out


def _truth(posters: Path) -> dict[str, list[str]]:
    return {Path(t["file"]).stem: [ln["text"] for ln in t["lines"]]
            for t in json.loads((posters / "truth.json").read_text(encoding="utf-8"))}


def test_fixture_posters_vary_fonts_sizes_and_layouts(posters: Path):
    lines = [ln for t in json.loads((posters / "truth.json").read_text()) for ln in t["lines"]]
    assert len({ln["font"] for ln in lines}) >= 2 and len({ln["weight"] for ln in lines}) >= 3
    assert len({ln["size"] for ln in lines}) >= 5
    assert len({Image.open(p).size for p in posters.glob("*.png")}) >= 3


def test_recovered_text_lines_reach_ned_095(corpus: Path, posters: Path):
    truth = _truth(posters)
    df = pd.read_parquet(corpus / "samples.parquet")
    assert len(df) == N_POSTERS
    scores = [ned("".join(ln["text"] for ln in row.lines), "".join(truth[row.id])) for row in df.itertuples()]
    assert np.mean(scores) >= 0.95, scores
    assert min(scores) >= 0.8, scores
    found = sum(row.n_lines for row in df.itertuples())
    assert found == sum(len(v) for v in truth.values())


def test_subject_found_where_the_product_is(corpus: Path, posters: Path):
    boxes = {Path(t["file"]).stem: t["product_box"] for t in json.loads((posters / "truth.json").read_text())}
    for row in pd.read_parquet(corpus / "samples.parquet").itertuples():
        x0, y0, x1, y1 = boxes[row.id]
        s, (dx, dy) = row.scale, row.pad[:2]
        want = [x0 * s + dx, y0 * s + dy, x1 * s + dx, y1 * s + dy]
        assert np.abs(np.array(row.subject_bbox) - want).max() <= 6, (row.id, row.subject_bbox, want)
        assert row.subject_method == "saliency" and row.style_from == "inpaint"


def test_metadata_prompt_else_a_built_one_never_the_copy(corpus: Path):
    df = pd.read_parquet(corpus / "samples.parquet").set_index("id")
    assert df.loc["poster_000"].prompt == "a bottle on a soft studio backdrop"
    built = df.loc["poster_001"].prompt
    assert built.startswith("an e-commerce advertising poster of a bottle") and "background" in built
    for row in df.itertuples():
        assert not any(ln["text"] in row.prompt for ln in row.lines)


def test_style_image_has_text_and_product_removed(corpus: Path):
    for row in pd.read_parquet(corpus / "samples.parquet").itertuples():
        poster = np.asarray(Image.open(corpus / row.poster), np.int16)
        style = np.asarray(Image.open(corpus / row.style), np.int16)
        mask = np.asarray(Image.open(corpus / row.mask)) > 127
        changed = np.abs(poster - style).max(axis=2) > 40
        assert changed[mask].mean() > 0.5  # product painted over
        for ln in row.lines:
            x0, y0, x1, y1 = ln["box"]
            assert changed[y0:y1, x0:x1].any()  # text painted over


def test_corpus_loads_with_pandas_pyarrow_and_datasets(corpus: Path):
    import pyarrow.parquet as pq
    from datasets import load_dataset

    df = pd.read_parquet(corpus / "samples.parquet")
    table = pq.read_table(corpus / "samples.parquet")
    ds = load_dataset("parquet", data_files=str(corpus / "samples.parquet"), split="train",
                      cache_dir=str(corpus / ".hf-cache"))
    assert len(ds) == len(df) == table.num_rows == N_POSTERS
    first = ds[0]
    assert first["id"] == df.iloc[0].id and first["glyphs"][0]["size_code"] == df.iloc[0].glyphs[0]["size_code"]
    assert Image.open(corpus / first["glyph_crops"]).size == (64 * first["n_glyphs"], 64)
    assert all(not Path(p).is_absolute() for p in df.poster)


def test_split_pairing_shards_and_validate(corpus: Path):
    df = pd.read_parquet(corpus / "samples.parquet")
    assert df.groupby("sku").split.nunique().max() == 1
    assert df.style_ref_id.notna().sum() == N_POSTERS  # 2 posters per SKU: every one has a sibling
    assert all(df.set_index("id").loc[r.style_ref_id].sku == r.sku for r in df.itertuples())
    assert sorted(p.name for p in (corpus / "shards").glob("*.tar"))
    assert validate_corpus(corpus) == []


def test_resume_skips_finished_and_errors_do_not_stop_the_build(corpus: Path, posters: Path, tmp_path: Path):
    src = tmp_path / "posters"
    shutil.copytree(posters, src)
    out = tmp_path / "c"
    shutil.copytree(corpus, out)
    for rec in (out / "records").glob("*.json"):  # records name their source file; point them at the copy
        data = json.loads(rec.read_text())
        data["fingerprint"] = data["fingerprint"].replace(str(posters), str(src))
        rec.write_text(json.dumps(data))
    (src / "poster_099.png").write_bytes(b"broken")
    report = build_corpus(src, out, settings_from(size=512, shards=True, pair_siblings=True))
    assert report.resumed == N_POSTERS and report.kept == N_POSTERS
    assert [e["id"] for e in report.errors] == ["poster_099"] and report.errors[0]["error"].startswith("cannot read image poster_099.png: ")


@pytest.mark.timeout(300)
def test_process_pool_works_after_the_parent_already_ran_ocr(posters: Path, tmp_path: Path):
    from ecomctl.dataset.ocr import read_lines

    assert read_lines(Image.open(posters / "poster_000.png"), {"threads": 1})  # parent holds an OCR engine
    src = tmp_path / "two"
    src.mkdir()
    for name in ("poster_000.png", "poster_001.png"):
        shutil.copy(posters / name, src / name)
    report = build_corpus(src, tmp_path / "c", settings_from(size=256, workers=2))
    assert report.items == 2 and not report.errors
