"""Layout and typesetting: copy fits, never covers the product, stays in margins, reads with contrast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.errors import LayoutError
from ecomctl.render.styles import load_styles
from ecomctl.text.colour import contrast
from ecomctl.text.fonts import load_font
from ecomctl.text.layout import BY_SHAPE, TEMPLATES, plan_layout, template_for
from ecomctl.text.typeset import typeset, worst_contrast
from ecomctl.text.wrap import tokens, wrap
from ecomctl.types import Size, SkuRow

STYLES = load_styles(None)
COPY = [
    {"title": "臻颜修护面霜 24小时锁水", "subtitle": "Intensive repair cream · 50 ml", "price": "¥299", "badge": "新品上市"},
    {"title": "Ultra-light Sunscreen Fluid for Sensitive Skin", "subtitle": "SPF50+ PA++++, no white cast",
     "price": "$29.90", "badge": "NEW"},
    {"title": "有机婴幼儿配方奶粉三段适合一到三岁宝宝食用", "subtitle": "婴幼儿配方 营养均衡", "price": "¥328"},
    {"title": "Mug"},
]
SIZES = [Size(1024, 1024), Size(800, 800), Size(1080, 1920), Size(1200, 628), Size(1080, 1350)]


def _row(size: Size, **copy: str) -> SkuRow:
    return SkuRow(sku="S", image=Path("x.png"), size=size, **copy)


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("copy", range(len(COPY)))
@pytest.mark.parametrize("subject_wh", [(1200, 400), (300, 1000)])
def test_every_template_keeps_copy_off_the_product_and_inside_margins(size, copy, subject_wh):
    row = _row(size, **COPY[copy])
    for name in BY_SHAPE["square"] + BY_SHAPE["tall"] + BY_SHAPE["wide"]:
        try:
            layout = plan_layout(row, TEMPLATES[name], size, subject_wh, STYLES["clean-studio"])
        except LayoutError:
            assert name in BY_SHAPE["tall"] and size.w > size.h  # only off-shape templates may refuse
            continue
        margin = round(min(size.w, size.h) * 0.06) - 2
        assert {t.role for t in layout.lines} == set(row.copy_lines())
        assert "".join(t.text for t in layout.lines if t.role == "title").replace(" ", "") == \
            row.title.replace(" ", "")
        for t in layout.lines:
            assert t.box.intersection(layout.subject_box) == 0, (name, t)
            assert t.box.x0 >= margin and t.box.y0 >= margin, (name, t)
            assert t.box.x1 <= size.w - margin and t.box.y1 <= size.h - margin, (name, t)
        for a in layout.lines:
            for b in layout.lines:
                assert a is b or a.box.intersection(b.box) == 0, (name, a, b)


def test_template_choice_follows_canvas_shape_and_cycles_per_variant():
    assert template_for(Size(1200, 628), 1, None).name == "split-left"
    assert template_for(Size(1200, 628), 2, None).name == "diagonal"
    assert template_for(Size(1200, 628), 3, None).name == "split-right"
    assert template_for(Size(1080, 1920), 1, None).name == "story"
    assert template_for(Size(1080, 1920), 2, None).name == "diagonal"
    assert template_for(Size(1024, 1024), 2, None).name == "podium"
    assert template_for(Size(1024, 1024), 3, None).name == "hero-top"
    assert template_for(Size(1024, 1024), 2, "story").name == "story"


def test_copy_that_cannot_fit_raises_a_clear_error():
    row = _row(Size(1200, 628), title="超" * 300)
    with pytest.raises(LayoutError, match="copy does not fit template 'hero-top'"):
        plan_layout(row, TEMPLATES["hero-top"], row.size, (500, 500), STYLES["clean-studio"])


def test_wrap_breaks_chinese_anywhere_but_not_before_punctuation():
    font = load_font(40, 700)
    lines = wrap("限时特惠，买一送一！今晚八点准时开抢", font, 230, 4)
    assert lines and all(not ln[0] in "，！" for ln in lines)
    assert "".join(lines) == "限时特惠，买一送一！今晚八点准时开抢"
    assert tokens("Hi，世界") == ["Hi，", "世", "界"]


def test_wrap_keeps_english_words_whole_and_balances():
    font = load_font(40, 400)
    lines = wrap("Deep hydration that lasts all day long", font, 420, 3)
    assert lines and " ".join(lines) == "Deep hydration that lasts all day long"
    widths = [font.getlength(line) for line in lines]
    assert max(widths) - min(widths) < 200  # balanced, no orphan word
    assert wrap("Supercalifragilistic", font, 100, 3) is None


@pytest.mark.parametrize("background", [(255, 255, 255), (10, 10, 10), (128, 128, 128), "noise"])
def test_typeset_guarantees_contrast_on_any_background(background):
    size = Size(800, 800)
    row = _row(size, **COPY[0])
    style = STYLES["clean-studio"]
    layout = plan_layout(row, TEMPLATES["split-left"], size, (600, 600), style)
    if background == "noise":
        rng = np.random.default_rng(0)
        scene = Image.fromarray(rng.integers(0, 256, (800, 800, 3), dtype=np.uint8))
    else:
        scene = Image.new("RGB", size.tuple, background)
    poster, final = typeset(scene, layout, style, 4.5)
    assert poster.size == scene.size and poster is not scene
    for line in final.lines:
        plate = [p for p in final.plates if p.box.intersection(line.box) == line.box.area]
        if plate:  # on a plate: the plate colour is what the text is read against
            assert contrast(line.color, plate[0].color) >= 4.5, line
        else:  # free-standing: against the worst 5% of the scene pixels under it
            assert worst_contrast(scene, line.box, line.color) >= 4.5, line
    if background == "noise":
        assert any(p.kind == "band" for p in final.plates)


def test_small_canvas_falls_back_to_a_template_that_fits():
    from ecomctl.text.layout import plan_for_variant

    row = _row(Size(450, 450), **COPY[0])
    with pytest.raises(LayoutError):
        plan_layout(row, TEMPLATES["hero-top"], row.size, (500, 500), STYLES["clean-studio"])
    layout = plan_for_variant(row, 2, (500, 500), STYLES["clean-studio"])  # variant 2 prefers hero-top
    assert layout.template in ("split-left", "split-right")
    assert layout.dropped == ()
    pinned = SkuRow(**{**row.__dict__, "template": "hero-top"})  # pinned: it gives up copy, and says which
    layout = plan_for_variant(pinned, 2, (500, 500), STYLES["clean-studio"])
    assert layout.template == "hero-top" and layout.dropped and layout.dropped[0] == "subtitle"
    assert {t.role for t in layout.lines} == {"title", "price", "badge"} - set(layout.dropped)
    huge = SkuRow(**{**pinned.__dict__, "title": "超" * 120})
    with pytest.raises(LayoutError, match="hero-top"):  # not even the title and price fit
        plan_for_variant(huge, 2, (500, 500), STYLES["clean-studio"])


def test_typeset_never_touches_product_pixels():
    """A plate's soft shadow reaching the product must not change a single product pixel."""
    size = Size(600, 600)
    row = _row(size, **COPY[0])
    style = STYLES["clean-studio"]
    layout = plan_layout(row, TEMPLATES["hero-top"], size, (400, 400), style)
    scene = Image.new("RGB", size.tuple, (240, 240, 240))
    product = np.zeros((600, 600), np.uint8)
    price = next(p for p in layout.plates if p.role == "price")
    product[price.box.y1:price.box.y1 + 20, price.box.x0:price.box.x1] = 255  # right under the tag
    shaded, _ = typeset(scene, layout, style)
    kept, _ = typeset(scene, layout, style, product=product)
    assert (np.asarray(shaded)[product > 0] != 240).any()  # without protection the shadow lands there
    assert (np.asarray(kept)[product > 0] == 240).all()
