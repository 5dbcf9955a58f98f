"""`dataset build` from a real `ecomctl render` output: exact conditions, glyphs re-OCR, masks, split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.dataset import build_corpus, settings_from, validate_corpus
from ecomctl.qa.metrics import ned
from ecomctl.qa.text import crop_line
from ecomctl.text.ocr import get_ocr
from ecomctl.types import Box
from tests.conftest import make_product, write_manifest


def render_tiny(folder: Path, keep_layers: bool = True) -> Path:
    """2 SKUs at 400x400 (3 posters) rendered by the real `ecomctl render`; returns the output folder."""
    folder.mkdir(parents=True, exist_ok=True)
    make_product(folder / "a.png")
    make_product(folder / "b.png", (400, 300))
    manifest = write_manifest(folder / "m.csv", [
        {"sku": "A1", "image": "a.png", "title": "保湿面霜 长效锁水", "subtitle": "Deep hydration",
         "price": "¥99", "size": "400x400", "variants": "2"},
        {"sku": "B2", "image": "b.png", "title": "Travel Mug", "subtitle": "Keeps coffee hot",
         "price": "$24", "size": "400x400", "variants": "1"},
    ])
    (folder / "fast.yaml").write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    out = folder / "out"
    args = ["render", str(manifest), "--out", str(out), "--config", str(folder / "fast.yaml")]
    res = CliRunner().invoke(app, args + (["--keep-layers"] if keep_layers else []))
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    return render_tiny(tmp_path_factory.mktemp("render"))


@pytest.fixture(scope="module")
def corpus(rendered: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    report = build_corpus(rendered, out, settings_from(size=400, bench_fraction=0.5))
    assert report.kept == 3 and not report.errors, report
    return out


def test_every_glyph_image_reocrs_to_its_recorded_text(corpus: Path):
    ocr = get_ocr({"threads": 1})
    for row in pd.read_parquet(corpus / "samples.parquet").itertuples():
        glyph = np.asarray(Image.open(corpus / row.glyph).convert("RGB"))
        crops = [crop_line(glyph, Box.from_list(ln["box"]), 0.25, 32) for ln in row.lines]
        read = [t.text for t in ocr.recognize(crops)]
        truth = [ln["text"] for ln in row.lines]
        assert ned("".join(read), "".join(truth)) >= 0.99, (row.id, read, truth)


def test_subject_masks_and_style_layers_equal_the_render(corpus: Path, rendered: Path):
    df = pd.read_parquet(corpus / "samples.parquet")
    for row in df.itertuples():
        sku, name = row.sku, row.id
        want = np.asarray(Image.open(rendered / sku / f"{name}.subject.png").convert("L"))
        assert np.array_equal(np.asarray(Image.open(corpus / row.mask)), want)
        bg = np.asarray(Image.open(rendered / sku / f"{name}.bg.png").convert("RGB"))
        assert np.array_equal(np.asarray(Image.open(corpus / row.style)), bg)
        subject = np.asarray(Image.open(corpus / row.subject))
        assert not subject[want <= 127].any()  # non-subject filled black
        assert row.style_from == "layer" and row.source == "render" and row.subject_method == "alpha"
    assert set(df.id) == {"A1-v1", "A1-v2", "B2-v1"}


def test_lines_come_from_the_sidecar_and_prompt_is_not_the_copy(corpus: Path):
    df = pd.read_parquet(corpus / "samples.parquet").set_index("id")
    a1 = df.loc["A1-v1"]
    assert [ln["role"] for ln in a1.lines][-2:] == ["subtitle", "price"]
    assert "hydration" in a1.text and a1.lang == "mixed" and df.loc["B2-v1"].lang == "en"
    for row in df.itertuples():
        assert row.prompt and not any(ln["text"] in row.prompt for ln in row.lines)
        assert row.n_glyphs == len(row.glyphs) == sum(len(ln["text"].replace(" ", "")) for ln in row.lines)


def test_no_sku_leaks_across_the_split(corpus: Path):
    df = pd.read_parquet(corpus / "samples.parquet")
    assert df.groupby("sku").split.nunique().max() == 1
    assert set(df.split) == {"train", "bench"}
    assert validate_corpus(corpus) == []


def test_letterboxed_corpus_keeps_masks_aligned(rendered: Path, tmp_path: Path):
    report = build_corpus(rendered, tmp_path, settings_from(size=256))
    assert report.kept == 3
    row = pd.read_parquet(tmp_path / "samples.parquet").set_index("id").loc["A1-v1"]
    assert (row.width, row.height, row.scale, list(row.pad)) == (256, 256, 0.64, [0, 0, 0, 0])
    want = Image.open(rendered / "A1" / "A1-v1.subject.png").convert("L").resize((256, 256), Image.BILINEAR)
    got = np.asarray(Image.open(tmp_path / row["mask"]), np.int16)
    assert np.abs(got - np.asarray(want, np.int16)).max() <= 1
    assert validate_corpus(tmp_path) == []


def test_render_without_layers_falls_back_to_inpainting_and_says_so(tmp_path: Path):
    out = render_tiny(tmp_path / "r", keep_layers=False)
    build_corpus(out, tmp_path / "c", settings_from(size=400))
    df = pd.read_parquet(tmp_path / "c" / "samples.parquet")
    assert set(df.style_from) == {"inpaint"}
    assert all(any("inpainted" in n for n in notes) for notes in df.notes)
