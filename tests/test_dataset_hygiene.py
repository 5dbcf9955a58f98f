"""Dataset units: settings, letterbox normalisation, de-dup, filters, language, split, pairing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecomctl.dataset.hygiene import (
    detect_lang,
    drop_reason,
    duplicates,
    map_box,
    normalise,
    phash,
    placement_for,
)
from ecomctl.dataset.items import Conditions
from ecomctl.dataset.settings import settings_from
from ecomctl.dataset.split import assign_split, bench_target, pair_siblings
from ecomctl.errors import ConfigError
from ecomctl.types import Box, Layout, Size, TextLine


def _cond(w: int = 600, h: int = 400, lines: int = 1, area: float = 0.2, scores: tuple = ()) -> Conditions:
    mask = np.zeros((h, w), np.uint8)
    rows = round(area * h)
    mask[:rows] = 255
    tl = tuple(TextLine("title", "夏日 Sale", Box(300, 20 + 50 * i, 500, 60 + 50 * i), 40, 700, (0, 0, 0))
               for i in range(lines))
    layout = Layout(Size(w, h), "t", Box(0, 0, w, max(1, rows)), tl)
    poster = Image.new("RGB", (w, h), (200, 100, 50))
    return Conditions(poster, mask, poster.copy(), layout, "p", "layer", "alpha", scores)


def test_settings_layer_config_then_flags_and_reject_unknown_keys():
    s = settings_from({"size": 512, "workers": 2}, workers=4, seed=None)
    assert (s.size, s.workers, s.bench_size) == (512, 4, 300)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) sise "):
        settings_from({"sise": 3})
    with pytest.raises(ConfigError, match="size ≥ 32"):
        settings_from(size=8)
    assert settings_from(workers=3).fingerprint() == settings_from().fingerprint()  # speed knobs don't rebuild
    assert settings_from(size=300).fingerprint() != settings_from().fingerprint()


def test_letterbox_keeps_aspect_records_padding_and_moves_boxes():
    pl = placement_for(600, 400, 300)
    assert (pl.scale, pl.pad, pl.size) == (0.5, (0, 50, 0, 50), (300, 300))
    assert map_box(Box(100, 100, 200, 150), pl) == Box(50, 100, 100, 125)
    cond, pl = normalise(_cond(), 300)
    assert cond.poster.size == cond.style.size == (300, 300) and cond.subject_mask.shape == (300, 300)
    assert cond.layout.canvas == Size(300, 300) and cond.layout.lines[0].box == Box(150, 60, 250, 80)
    assert cond.layout.lines[0].font_size == 20
    assert not cond.subject_mask[:50].any() and not np.asarray(cond.poster)[:50].any()  # black padding
    assert cond.subject_mask[50:90].all()


def test_normalise_is_identity_at_the_target_size():
    cond = _cond(300, 300)
    same, pl = normalise(cond, 300)
    assert same is cond and pl.pad == (0, 0, 0, 0)


def _poster(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (400, 400), tuple(int(v) for v in rng.integers(0, 255, 3)))
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.integers(0, 350, 2)
        d.rectangle([int(x), int(y), int(x) + 60, int(y) + 40], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return img


def test_near_duplicates_are_found_but_different_posters_are_not():
    a, b = _poster(1), _poster(2)
    buf = io.BytesIO()
    a.save(buf, "JPEG", quality=70)
    again = Image.open(buf)
    hashes = [phash(a), phash(b), phash(again), phash(a.resize((300, 300)))]
    assert duplicates(hashes, 8) == [None, None, 0, 0]
    assert duplicates(hashes, 0)[1] is None


def test_filters_give_one_reason_each():
    s = settings_from()
    assert drop_reason(_cond(), (600, 400), s) is None
    assert drop_reason(_cond(), (200, 400), s) == "min_size"
    assert drop_reason(_cond(lines=0), (600, 400), s) == "no_text"
    assert drop_reason(_cond(scores=(0.3,)), (600, 400), s) == "ocr_confidence"
    assert drop_reason(_cond(area=0.001), (600, 400), s) == "subject_area"
    assert drop_reason(_cond(area=0.95), (600, 400), s) == "subject_area"
    assert drop_reason(_cond(lines=0), (600, 400), settings_from(require_text=False)) is None


def test_language_tag():
    assert [detect_lang(t) for t in ("夏日特惠", "Summer Sale", "夏日 Sale", "¥99", "夏 Summer")] == \
        ["zh", "en", "mixed", "none", "en"]


def test_split_is_grouped_deterministic_and_sized():
    skus = [f"S{i // 3}" for i in range(300)]  # 100 SKUs × 3 posters
    split = assign_split(skus, bench_size=300, bench_fraction=0.1, seed=0)
    assert split == assign_split(list(reversed(skus)), 300, 0.1, 0)
    bench = sum(split[k] == "bench" for k in skus)
    assert bench == 30 and bench_target(300, 300, 0.1) == 30
    assert bench_target(10_000, 300, 0.1) == 300
    assert assign_split(skus, 300, 0.1, seed=1) != split
    assert set(assign_split(["only"] * 5, 300, 0.5, 0).values()) == {"train"}  # never an empty train side


def test_pairing_picks_the_most_similar_sibling_of_the_same_group_and_split():
    rows = [{"id": "a", "group": "g", "split": "train", "style": "s/a", "style_phash": "ff00"},
            {"id": "b", "group": "g", "split": "train", "style": "s/b", "style_phash": "ff01"},
            {"id": "c", "group": "g", "split": "train", "style": "s/c", "style_phash": "00ff"},
            {"id": "d", "group": "g", "split": "bench", "style": "s/d", "style_phash": "ff00"},
            {"id": "e", "group": "h", "split": "train", "style": "s/e", "style_phash": "ff00"}]
    pair_siblings(rows)
    got = {r["id"]: r.get("style_ref_id") for r in rows}
    assert got == {"a": "b", "b": "a", "c": "b", "d": None, "e": None}
    assert rows[0]["style_ref"] == "s/b"
