"""Source discovery: poster folders with metadata, render folders, ids, errors (no OCR needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ecomctl.dataset import discover
from ecomctl.dataset.from_posters import discover_posters, safe_id
from ecomctl.errors import ConfigError


def _img(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 40), (9, 9, 9)).save(path)


def test_poster_folder_with_metadata_and_a_corpus_inside(tmp_path: Path):
    for name in ("a.png", "sub/b.jpg", "corpus/images/poster/a.png", "c d.webp"):
        _img(tmp_path / name)
    (tmp_path / "metadata.csv").write_text(
        "file,sku,group,prompt,subject\na.png,S1,G,a jar on marble,jar\nsub/b.jpg,S2,G,,\n", encoding="utf-8")
    items = discover_posters(tmp_path, exclude=tmp_path / "corpus")
    assert [i.id for i in items] == ["a", "c_d", "sub__b"]
    a, cd, b = items
    assert (a.sku, a.group, a.prompt, a.subject) == ("S1", "G", "a jar on marble", "jar")
    assert (b.sku, b.group, b.prompt, b.subject) == ("S2", "G", None, None)
    assert (cd.sku, cd.group) == ("c d", "c d")  # no metadata: the file stem is the SKU
    assert len(discover_posters(tmp_path)) == 4


def test_metadata_needs_a_file_column(tmp_path: Path):
    _img(tmp_path / "a.png")
    (tmp_path / "metadata.csv").write_text("name,sku\na.png,S1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="metadata needs a 'file' column"):
        discover_posters(tmp_path)


def test_auto_source_and_usage_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="not a folder"):
        discover(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no images found"):
        discover(tmp_path)
    _img(tmp_path / "x.png")
    _img(tmp_path / "x.jpg")
    with pytest.raises(ConfigError, match="two source files map to sample id 'x'"):
        discover(tmp_path)
    with pytest.raises(ConfigError, match="unknown dataset source 'pdf'"):
        discover(tmp_path, "pdf")
    (tmp_path / "run.yaml").write_text("run: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no rendered posters found"):
        discover(tmp_path)  # run.yaml marks a render folder; it has no sidecars
    assert safe_id("a/b c.png") == "a__b_c.png"


def test_text_on_the_product_is_its_label_unless_the_mask_swallowed_the_copy():
    import numpy as np

    from ecomctl.dataset.from_posters import _split_product_text, _suspect
    from ecomctl.text.ocr import OcrLine
    from ecomctl.types import Box

    mask = np.zeros((100, 100), np.uint8)
    mask[50:, 50:] = 255
    lines = [OcrLine("title", 0.99, Box(0, 0, 40, 10)), OcrLine("label", 0.99, Box(60, 60, 90, 70)),
             OcrLine("price", 0.99, Box(0, 20, 30, 30))]
    keep, on_product = _split_product_text(lines, mask)
    assert [ln.text for ln in keep] == ["title", "price"] and on_product == 1
    assert _suspect(3, 1) is None and _suspect(3, 2) is None and _suspect(3, 3) == "subject_covers_text"
    assert _suspect(0, 0) is None
