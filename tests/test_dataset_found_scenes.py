"""`dataset build` over real-looking found posters (full-bleed scenes, tests/extract_scenes.py): every poster
with a product is kept with subject IoU ≥ 0.9 and every line of copy; product and copy are gone from the
style image; a poster with no product is dropped with its reason; a check sheet is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ecomctl.dataset import build_corpus, settings_from
from ecomctl.dataset.ocr import read_lines
from ecomctl.qa.metrics import iou, ned
from tests.extract_scenes import poster

WITH_PRODUCT = (0, 1, 2, 3)
SIZE = 512


@pytest.fixture(scope="module")
def found(tmp_path_factory) -> tuple[Path, Path, dict]:
    src = tmp_path_factory.mktemp("found")
    truth = {}
    for fx in [poster(i, seed=1) for i in WITH_PRODUCT] + [poster(4, seed=1, product=False)]:
        fx.image.save(src / f"{fx.name}.jpg", quality=92)
        truth[fx.name] = fx
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(src, out, settings_from(size=SIZE, check_sheet=4))
    return src, out, truth


def _letterbox(mask: np.ndarray, scale: float, pad: list[int]) -> np.ndarray:
    h, w = mask.shape
    small = Image.fromarray(mask, "L").resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
    canvas = Image.new("L", (SIZE, SIZE), 0)
    canvas.paste(small, (pad[0], pad[1]))
    return np.asarray(canvas)


def test_every_poster_with_a_product_is_kept_with_its_mask_and_copy(found):
    _, out, truth = found
    df = pd.read_parquet(out / "samples.parquet").set_index("id")
    assert sorted(df.index) == sorted(n for n in truth if "no-product" not in n)
    for sid, row in df.iterrows():
        fx = truth[sid]
        mask = np.asarray(Image.open(out / row["mask"]))
        assert iou(mask, _letterbox(fx.truth, row["scale"], list(row["pad"]))) >= 0.9, sid
        read = [ln["text"] for ln in row["lines"]]
        for want in fx.lines:  # every line of copy, read (nearly) exactly
            assert max(ned(r.replace(" ", ""), want.replace(" ", "")) for r in read) >= 0.9, (sid, want, read)
        assert row["subject_confidence"] >= 0.7


def test_style_image_has_neither_product_nor_copy(found):
    _, out, truth = found
    df = pd.read_parquet(out / "samples.parquet").set_index("id")
    for sid, row in df.iterrows():
        fx = truth[sid]
        style = np.asarray(Image.open(out / row["style"])).astype(np.float32)
        poster_px = np.asarray(Image.open(out / row["poster"])).astype(np.float32)
        product = _letterbox(fx.truth, row["scale"], list(row["pad"])) > 127
        changed = np.abs(style - poster_px).max(axis=-1) > 30
        assert changed[product].mean() > 0.6, sid  # the product's pixels were replaced
        read = [ln.text for ln in read_lines(Image.open(out / row["style"]), {"threads": 1})]
        for want in fx.lines:  # OCR finds none of the copy on the style image any more
            assert all(ned(r, want) < 0.5 for r in read), (sid, want, read)


def test_a_poster_without_product_is_dropped_with_the_reason(found):
    _, out, _ = found
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    dropped = {d["id"]: d for d in stats["dropped_items"]}
    assert list(dropped) == ["poster-04-no-product-chelsea"]
    assert dropped["poster-04-no-product-chelsea"]["reason"] in ("mask_confidence", "no_subject")
    assert dropped["poster-04-no-product-chelsea"]["detail"]
    sheet = (out / "datasheet.md").read_text(encoding="utf-8")
    assert "`poster-04-no-product-chelsea`" in sheet and "check_sheet.png" in sheet


def test_check_sheet_shows_poster_subject_style_glyph(found):
    _, out, _ = found
    sheet = Image.open(out / "check_sheet.png")
    assert sheet.width == 4 * 224 and sheet.height > 4 * 224  # 4 columns, 4 sample rows
