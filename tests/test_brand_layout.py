"""A brand's poster: the logo in its slot, the selling points as a list, the price row (label, price, the list
price struck through); nothing over the product, the type scale kept, and copy that does not fit dropped in
order and recorded, never silently."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.errors import LayoutError
from ecomctl.render.styles import load_styles
from ecomctl.text.blocks import TYPE_SCALE
from ecomctl.text.colour import contrast
from ecomctl.text.layout import BY_SHAPE, DROP_ORDER, TEMPLATES, drop_steps, plan_for_variant, plan_layout
from ecomctl.text.logo import logo_layer
from ecomctl.text.typeset import strike_box, typeset, worst_contrast
from ecomctl.text.wrap import wrap
from ecomctl.types import Size, SkuRow

STYLES = load_styles(None)
STYLE = STYLES["clean-studio"]
SIZES = [Size(1024, 1024), Size(800, 800), Size(1080, 1920), Size(1200, 628), Size(1080, 1350)]
LOGO_WH = (320, 130)
BRAND = {"title": "有机婴幼儿配方奶粉", "subtitle": "Infant formula with HMO · Stage 3", "price": "¥328",
         "badge": "热销", "points": ("含HMO母乳低聚糖", "0添加蔗糖", "有机奶源"), "list_price": "¥398",
         "price_label": "到手价", "logo": Path("logo.png")}
BRAND_EN = {"title": "Hydra Repair Cream", "subtitle": "24-hour moisture lock", "price": "$39", "list_price": "$49",
            "price_label": "Now", "points": ("Ceramide complex", "Fragrance-free"), "logo": Path("logo.png")}


def _row(size: Size, **copy) -> SkuRow:
    return SkuRow(sku="S", image=Path("x.png"), size=size, **copy)


def _logo(wh: tuple[int, int] = LOGO_WH, colour=(40, 40, 40)) -> Image.Image:
    img = Image.new("RGBA", wh, (0, 0, 0, 0))
    img.paste(Image.new("RGBA", (wh[0] - 20, wh[1] - 20), (*colour, 255)), (10, 10))
    return img


def _sizes(layout) -> dict[str, int]:
    return {("point" if t.role == "point" else t.role): t.font_size for t in layout.lines}


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("copy", [BRAND, BRAND_EN], ids=["zh", "en"])
@pytest.mark.parametrize("subject_wh", [(1200, 400), (300, 1000)])
def test_every_template_keeps_logo_points_and_price_off_the_product(size, copy, subject_wh):
    row = _row(size, **copy)
    margin = round(min(size.w, size.h) * 0.06) - 2
    for name in BY_SHAPE["square"] + BY_SHAPE["tall"] + BY_SHAPE["wide"]:
        try:
            layout = plan_layout(row, TEMPLATES[name], size, subject_wh, STYLE, logo_wh=LOGO_WH, drops=True)
        except LayoutError:
            assert name in BY_SHAPE["tall"] and size.w > size.h  # only off-shape templates may refuse
            continue
        shown = set(row.copy_lines()) - {k for step, keys in drop_steps(row.copy_lines())
                                          if step in layout.dropped for k in keys}
        roles = {"point" if k.startswith("point") else k for k in shown}
        assert {t.role for t in layout.lines} == roles, (name, layout.dropped)
        assert layout.logo is not None and layout.logo.intersection(layout.subject_box) == 0
        boxes = [(t.role, t.box) for t in layout.lines] + [(p.role, p.box) for p in layout.plates]
        boxes.append(("logo", layout.logo))
        for role, box in boxes:
            assert box.intersection(layout.subject_box) == 0, (name, role, box)
            assert box.x0 >= margin and box.y0 >= margin, (name, role, box)
            assert box.x1 <= size.w - margin and box.y1 <= size.h - margin, (name, role, box)
        for i, (ra, a) in enumerate(boxes):  # no two elements on each other (a tag's text sits on its plate)
            for rb, b in boxes[i + 1:]:
                if {ra, rb} in ({"price"}, {"badge"}, {"price", "badge"}) or "bullet" in (ra, rb):
                    continue
                assert a.intersection(b) == 0, (name, ra, a, rb, b)


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_type_scale_title_price_points_subtitle_list_price(size):
    for variant in (1, 2, 3):
        layout = plan_for_variant(_row(size, **BRAND), variant, (600, 600), STYLE, logo_wh=LOGO_WH)
        sizes = _sizes(layout)
        present = [r for r in TYPE_SCALE if r in sizes]
        assert present == list(TYPE_SCALE), (size, variant, sizes, layout.dropped)
        assert all(sizes[a] > sizes[b] for a, b in pairwise(present)), (size, variant, sizes)
        assert sizes["price_label"] < sizes["price"]


def test_the_logo_keeps_its_aspect_and_slot():
    for size in SIZES:
        for variant in (1, 2):
            layout = plan_for_variant(_row(size, **BRAND), variant, (600, 600), STYLE, logo_wh=LOGO_WH)
            box = layout.logo
            assert abs(box.w / box.h - LOGO_WH[0] / LOGO_WH[1]) < 0.03, (size, box)
            assert box.w <= 0.32 * size.w + 1
            copy_top = min(t.box.y0 for t in layout.lines)
            assert box.y1 <= copy_top, (size, variant, layout.template)  # above all of the copy


def test_a_small_canvas_drops_lowest_priority_first_and_records_it():
    row = _row(Size(400, 400), title="Organic Infant Formula", subtitle="With HMO for stage three babies",
               price="¥328", list_price="¥398", price_label="到手价", logo=Path("l.png"),
               points=("Human milk oligosaccharides", "No added sucrose at all", "Organic dairy farms",
                       "Made in New Zealand")[:4])
    row = SkuRow(**{**row.__dict__, "points": tuple(p[:24] for p in row.points)})
    layout = plan_for_variant(row, 1, (500, 500), STYLE, logo_wh=LOGO_WH)
    assert layout.dropped and layout.dropped[0] == "points[2:]"
    assert list(layout.dropped) == [d for d in ("points[2:]", "subtitle", "points[:2]", "badge", "price_label",
                                                "list_price") if d in layout.dropped][:len(layout.dropped)]
    texts = [t.text for t in layout.lines]
    assert "Organic dairy farms" not in texts and "Made in New Zealand" not in texts
    assert {"title", "price"} <= {t.role for t in layout.lines} and layout.logo is not None
    with pytest.raises(LayoutError):  # without drops the same canvas refuses
        plan_layout(row, TEMPLATES[layout.template], row.size, (500, 500), STYLE, logo_wh=LOGO_WH)


def test_drop_steps_follow_the_declared_order():
    copy = _row(Size(800, 800), **{**BRAND, "points": ("a", "b", "c", "d")}).copy_lines()
    assert [s for s, _ in drop_steps(copy)] == ["points[2:]", "subtitle", "points[:2]", "badge", "price_label",
                                                "list_price"]
    assert drop_steps(copy)[0][1] == ("point3", "point4")
    two = _row(Size(800, 800), title="t", price="¥1", points=("a", "b")).copy_lines()
    assert [s for s, _ in drop_steps(two)] == ["points"]
    assert DROP_ORDER[0] == "points[2:]"


def test_rows_without_brand_fields_lay_out_as_before():
    """No logo, points or list price: the same templates and sizes as before the brand fields existed."""
    row = _row(Size(1024, 1024), title="臻颜修护面霜 24小时锁水", subtitle="Intensive repair cream · 50 ml",
               price="¥299", badge="新品上市")
    layout = plan_for_variant(row, 3, (600, 600), STYLE)  # the square cycle's third: hero-top
    assert layout.template == "hero-top" and layout.logo is None and layout.dropped == ()
    assert [t.role for t in layout.lines] == ["badge", "title", "subtitle", "price"]
    assert TEMPLATES["hero-top"].for_row(row) is TEMPLATES["hero-top"]


@pytest.mark.parametrize("scene_colour", [(245, 245, 240), (20, 22, 30)], ids=["light", "dark"])
@pytest.mark.parametrize("logo_colour", [(30, 30, 30), (250, 250, 250)], ids=["dark-logo", "light-logo"])
def test_the_logo_gets_a_plate_only_when_it_would_not_stand_out(scene_colour, logo_colour):
    size = Size(1024, 1024)
    layout = plan_for_variant(_row(size, **BRAND), 1, (600, 600), STYLE, logo_wh=LOGO_WH)
    layer = logo_layer(_logo(colour=logo_colour), layout.logo)
    scene = Image.new("RGB", size.tuple, scene_colour)
    poster, final = typeset(scene, layout, STYLE, 4.5, logo=layer)
    plates = [p for p in final.plates if p.role == "logo"]
    needs = contrast(logo_colour, scene_colour) < 3.0
    assert bool(plates) == needs
    if plates:
        assert contrast(logo_colour, plates[0].color) >= 3.0
        assert plates[0].box.intersection(final.subject_box) == 0
    inside = np.asarray(poster)[layout.logo.y0 + 15:layout.logo.y1 - 15, layout.logo.x0 + 15:layout.logo.x1 - 15]
    assert (np.abs(inside.astype(int) - logo_colour).max(axis=2) <= 2).all()  # drawn, whole


def test_list_price_is_struck_through_in_its_colour_and_text_keeps_contrast():
    size = Size(1024, 1024)
    layout = plan_for_variant(_row(size, **BRAND), 1, (600, 600), STYLE, logo_wh=LOGO_WH)
    scene = Image.new("RGB", size.tuple, (240, 240, 240))
    poster, final = typeset(scene, layout, STYLE, 4.5)
    listed = next(t for t in final.lines if t.role == "list_price")
    strike = strike_box(listed)
    assert strike.x0 < listed.box.x0 and strike.x1 > listed.box.x1  # across the whole ink
    assert listed.box.y0 < strike.y0 and strike.y1 < listed.box.y1  # through its middle
    assert 1 <= strike.h <= max(2, round(listed.font_size * 0.1))  # thickness ∝ size
    row = np.asarray(poster)[strike.y0:strike.y1, strike.x0:strike.x1]
    assert (np.abs(row.astype(int) - listed.color).max(axis=2) <= 1).all()
    for line in final.lines:
        if line.role in ("point", "price_label", "list_price"):
            assert worst_contrast(scene, line.box, line.color) >= 4.5, line


def test_bullets_sit_outside_each_point_line_ocr_crop():
    layout = plan_for_variant(_row(Size(1024, 1024), **BRAND), 1, (600, 600), STYLE, logo_wh=LOGO_WH)
    points = [t for t in layout.lines if t.role == "point"]
    bullets = [p for p in layout.plates if p.role == "bullet"]
    assert len(bullets) == len(points) == 3
    for point, bullet in zip(points, bullets):
        pad = max(2, round(point.box.h * 0.2))  # QA's crop padding (qa.text.pad)
        assert bullet.box.x1 <= point.box.x0 - pad
    steps = {b.box.y0 - a.box.y0 for a, b in pairwise(bullets)}
    assert len(steps) == 1  # one rhythm


def test_wrap_never_leaves_a_separator_at_a_line_end():
    from ecomctl.text.fonts import load_font

    font = load_font(48, 400)
    for text in ("Two cases · one price", "Light coverage | 12 h wear", "长效锁水 · 温和配方 · 敏感肌可用"):
        width = font.getlength(text) * 0.6
        for phrases in (True, False):
            lines = wrap(text, font, width, 3, phrases)
            assert lines and len(lines) > 1, text
            for line in lines:
                assert line[-1] not in "·|/" and line[0] not in "·|/", (text, lines)
    assert wrap("Two cases · one price", font, font.getlength("Two cases ·"), 2, True) == ["Two cases", "one price"]


@pytest.mark.parametrize("name", ["diagonal", "hero-top", "framed", "split-left"])
@pytest.mark.parametrize("size", [Size(1024, 1024), Size(800, 800), Size(1080, 1350)], ids=str)
def test_a_point_too_wide_for_the_column_at_its_smallest_size_wraps_instead_of_dropping_the_list(name, size):
    """A valid point (24 columns, the manifest's limit) wider than a square canvas's copy column at the
    point's floor size dropped every point and the subtitle (a QA warning naming them on 14 posters of the
    design review's matrix); at the floor the point wraps onto a second line under its own text, one bullet."""
    copy = {"title": "Drop-proof Phone Case", "subtitle": "For iPhone 15 Pro", "price": "$12", "badge": "2 FOR 1",
            "points": ("Military-grade drop test", "Full lens cover"), "logo": Path("l.png")}
    layout = plan_layout(_row(size, **copy), TEMPLATES[name], size, (800, 500), STYLE, logo_wh=LOGO_WH, drops=True)
    assert layout.dropped == ()
    points = [t for t in layout.lines if t.role == "point"]
    assert " ".join(t.text for t in points) == "Military-grade drop test Full lens cover"
    bullets = [p for p in layout.plates if p.role == "bullet"]
    assert len(bullets) == 2
    assert len({t.font_size for t in points}) == 1 and len({t.box.x0 for t in points}) == 1
    assert all(t.box.intersection(layout.subject_box) == 0 for t in layout.lines)
