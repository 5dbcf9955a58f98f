"""The podium, framed and diagonal compositions: on every canvas shape the copy stays off the product and in
the margins, the scene draws each one's stage where its layout says, and a real render of each passes QA."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.render.compose import ComposeBackend
from ecomctl.render.styles import load_styles
from ecomctl.text.layout import BY_SHAPE, TEMPLATES, plan_layout, shape_of
from ecomctl.types import Size, SkuRow, Style
from tests.conftest import ROOT

NEW = ("podium", "framed", "diagonal")
SIZES = (Size(1024, 1024), Size(1080, 1920), Size(1200, 628))
STYLES = load_styles(None)
COPY = [
    {"title": "臻颜修护面霜 24小时锁水", "subtitle": "Intensive repair cream · 50 ml", "price": "¥299", "badge": "新品上市"},
    {"title": "Ultra-light Sunscreen Fluid for Sensitive Skin", "subtitle": "SPF50+ PA++++, no white cast",
     "price": "$29.90", "badge": "NEW"},
    {"title": "有机婴幼儿配方奶粉", "subtitle": "Infant formula with HMO · Stage 3", "price": "¥328"},
]
LOGO_WH = (320, 130)
BRAND = {"title": "有机婴幼儿配方奶粉", "subtitle": "Infant formula with HMO · Stage 3", "price": "¥328",
         "badge": "热销", "points": ("含HMO母乳低聚糖", "0添加蔗糖", "有机奶源"), "list_price": "¥398",
         "price_label": "到手价", "logo": Path("logo.png")}


def _row(size: Size, **copy: str) -> SkuRow:
    return SkuRow(sku="S", image=Path("x.png"), size=size, **copy)


def test_each_shape_cycles_through_a_new_composition():
    for shape, names in BY_SHAPE.items():
        assert set(names) & set(NEW), shape
    assert all(name in TEMPLATES for names in BY_SHAPE.values() for name in names)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("subject_wh", [(1200, 400), (300, 1000), (800, 800)])
def test_new_templates_hold_the_copy_off_the_product_in_the_margins_on_every_shape(name, size, subject_wh):
    for copy in COPY:
        row = _row(size, **copy)
        layout = plan_layout(row, TEMPLATES[name], size, subject_wh, STYLES["clean-studio"])  # never refuses
        assert layout.template == name
        margin = round(min(size.w, size.h) * 0.06) - 2
        assert {t.role for t in layout.lines} == set(row.copy_lines())
        for t in layout.lines:
            assert t.box.intersection(layout.subject_box) == 0, (name, t)
            assert margin <= t.box.x0 and t.box.x1 <= size.w - margin, (name, t)
            assert margin <= t.box.y0 and t.box.y1 <= size.h - margin, (name, t)
        for p in layout.plates:
            assert p.box.intersection(layout.subject_box) == 0, (name, p)
        box = layout.subject_box
        assert box.x0 >= margin and box.x1 <= size.w - margin and box.y1 <= size.h - margin + 2


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("subject_wh", [(1200, 400), (300, 1000)])
def test_new_templates_hold_logo_points_and_price_row_off_the_product_without_dropping(name, size, subject_wh):
    row = _row(size, **BRAND)
    layout = plan_layout(row, TEMPLATES[name], size, subject_wh, STYLES["clean-studio"], logo_wh=LOGO_WH)
    assert layout.dropped == () and layout.logo is not None
    assert {t.role for t in layout.lines} >= {"title", "subtitle", "point", "price", "list_price", "price_label"}
    margin = round(min(size.w, size.h) * 0.06) - 2
    for box in [t.box for t in layout.lines] + [p.box for p in layout.plates] + [layout.logo]:
        assert box.intersection(layout.subject_box) == 0, (name, box)
        assert margin <= box.x0 and box.x1 <= size.w - margin and margin <= box.y0 and box.y1 <= size.h - margin


def test_tall_canvases_get_the_tall_design_of_framed_and_diagonal():
    row = _row(Size(1080, 1920), **COPY[0])
    for name in ("framed", "diagonal"):
        layout = plan_layout(row, TEMPLATES[name], row.size, (800, 800), STYLES["clean-studio"])
        copy_bottom = max(t.box.y1 for t in layout.lines if t.role == "title")
        assert copy_bottom <= layout.subject_box.y0, name  # the headline above the product, not in a column
    assert shape_of(row.size) == "tall"


FLAT = Style(name="flat", background=((240, 240, 240),), gradient="flat", texture="none", shape="none",
             accent=(200, 30, 40), text=(20, 20, 20), plate=(255, 255, 255))


def _scene(name: str, size: Size) -> tuple[np.ndarray, np.ndarray, object]:
    """The compose scene for template `name` and the same scene for a template without a stage."""
    from ecomctl.types import SceneRequest

    row = _row(size, **COPY[0])
    layout = plan_layout(row, TEMPLATES[name], size, (800, 800), FLAT)
    layer = Image.new("RGBA", size.tuple, (0, 0, 0, 0))
    backend = ComposeBackend({}, "cpu")

    def scene(lay):
        req = SceneRequest(row=row, variant=1, seed=1, style=FLAT, layout=lay, subject_layer=layer, prompt="")
        return np.asarray(backend.scene(req)).astype(int)

    plain = type(layout)(layout.canvas, "split-left", layout.subject_box, layout.lines, layout.plates, layout.font)
    return scene(layout), scene(plain), layout


def test_podium_stands_under_the_product_base():
    size = Size(1024, 1024)
    staged, plain, layout = _scene("podium", size)
    box = layout.subject_box
    below = (slice(box.y1 + 4, box.y1 + 30), slice(int(box.center[0]) - 20, int(box.center[0]) + 20))
    assert np.abs(staged[below] - plain[below]).max() > 20  # the drum under the base
    above = (slice(box.y0 - 40, box.y0 - 10), slice(box.x0, box.x1))
    assert np.array_equal(staged[above], plain[above])  # nothing above the product


def test_framed_draws_the_accent_band_inside_the_margin_only():
    size = Size(1200, 628)
    staged, plain, _ = _scene("framed", size)
    short = min(size.w, size.h)
    inset = round(short * 0.018) + 2
    assert np.abs(staged[size.h // 2, inset] - np.asarray(FLAT.accent)).max() <= 2  # left band, mid height
    m = round(short * 0.06)
    inner = (slice(m, size.h - m), slice(m, size.w - m))
    assert np.array_equal(staged[inner], plain[inner])  # the safe area is untouched


@pytest.mark.parametrize("size", [Size(1200, 628), Size(1024, 1024), Size(1080, 1920)], ids=str)
def test_diagonal_panel_is_under_every_copy_line(size):
    staged, plain, layout = _scene("diagonal", size)
    panel = np.asarray([round(a * 0.92 + b * 0.08) for a, b in zip(FLAT.text, FLAT.background[0])])
    for t in layout.lines:
        under = staged[t.box.y0:t.box.y1, t.box.x0:t.box.x1].reshape(-1, 3)
        assert (np.abs(under - panel).max(axis=1) <= 2).all(), t
    box = layout.subject_box
    centre = staged[box.y0 + box.h // 2, box.x0 + box.w // 2]
    assert np.abs(centre - plain[box.y0 + box.h // 2, box.x0 + box.w // 2]).max() <= 2  # not behind the product


def test_a_real_render_of_each_new_template_passes_qa(tmp_path):
    demo = ROOT / "manifests"
    rows = []
    for name in NEW:
        for size in ("1024x1024", "story", "banner"):
            rows.append({"sku": f"{name}-{size}", "image": str(demo / "assets" / "571507774301.png"),
                         "title": "臻颜修护面霜 24小时锁水", "subtitle": "Intensive repair cream · 50 ml",
                         "price": "¥299", "badge": "新品上市", "size": size, "template": name, "variants": "1"})
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = CliRunner().invoke(app, ["render", str(manifest), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    for r in rows:
        side = json.loads((tmp_path / "out" / r["sku"] / f"{r['sku']}-v1.json").read_text(encoding="utf-8"))
        assert side["qa"]["status"] == "pass", (r["sku"], side["qa"]["checks"])
        assert side["layout"]["template"] == r["template"]
        metrics = {c["name"]: c["value"] for c in side["qa"]["checks"]}
        assert metrics["layout.occ"] == 0.0 and metrics["layout.ove"] == 0.0, r["sku"]


@pytest.mark.parametrize("size", SIZES + (Size(800, 800),), ids=str)
def test_the_logo_plate_never_reaches_the_copy_under_it(size):
    """The logo's block reserves the room its plate takes (text/logo.py draws one where the logo would not
    stand out): on every template no line or plate lies in it."""
    from ecomctl.text.blocks import logo_plate_pad

    for name in TEMPLATES:
        row = _row(size, **BRAND)
        layout = plan_layout(row, TEMPLATES[name], size, (600, 600), STYLES["clean-studio"], logo_wh=LOGO_WH,
                             drops=True)
        room = layout.logo.expand(logo_plate_pad(layout.logo.h))
        for box in [t.box for t in layout.lines] + [p.box for p in layout.plates]:
            assert box.intersection(room) == 0, (name, box, room)


@pytest.mark.parametrize("size", [Size(1024, 1024), Size(1080, 1920)], ids=str)
def test_the_badge_pill_stands_out_on_the_diagonal_panel(size):
    """The badge pill (the style's text colour) on the diagonal's panel (a tint of the same colour) showed only
    its text; the typesetter gives it a colour that stands out from the scene under it."""
    from ecomctl.text.colour import contrast
    from ecomctl.text.typeset import typeset

    staged, _, layout = _scene("diagonal", size)
    scene = Image.fromarray(staged.astype(np.uint8), "RGB")
    _, drawn = typeset(scene, layout, FLAT)
    pill = next(p for p in drawn.plates if p.role == "badge")
    ground = tuple(int(v) for v in staged[pill.box.y0 + pill.box.h // 2, max(0, pill.box.x0 - 6)])
    assert contrast(pill.color, ground) >= 1.6, (pill.color, ground)
    badge = next(t for t in drawn.lines if t.role == "badge")
    assert contrast(badge.color, pill.color) >= 4.5


def test_the_diagonal_draws_no_floor_band_across_the_product():
    """A style's floor band (shape: band) crossed the product under the diagonal's panel edge: two cuts across a
    tall poster. The panel is the diagonal's graphic; the band is left out there, as under the podium."""
    from dataclasses import replace as _replace

    band = _replace(FLAT, shape="band")
    size = Size(1080, 1920)
    row = _row(size, **COPY[0])
    layout = plan_layout(row, TEMPLATES["diagonal"], size, (800, 800), band)
    from ecomctl.types import SceneRequest
    req = SceneRequest(row=row, variant=1, seed=1, style=band, layout=layout,
                       subject_layer=Image.new("RGBA", size.tuple, (0, 0, 0, 0)), prompt="")
    scene = np.asarray(ComposeBackend({}, "cpu").scene(req)).astype(int)
    box = layout.subject_box
    y = round(box.y0 + box.h * 0.85)  # inside where the band would be, at the canvas's right edge
    assert np.abs(scene[y, size.w - 8] - np.asarray(FLAT.background[0])).max() <= 2


@pytest.mark.parametrize("name", BY_SHAPE["tall"])
def test_a_wide_product_lends_its_empty_band_to_the_copy_on_a_tall_canvas(name):
    """A wide product (a jar, two cases) fills its slot's width on a story canvas and left bands of the slot
    empty while the copy above and below shrank to fit its own regions (title 7–8% of the width). The
    copy regions next to the slot take that height: the title grows, the product keeps its size and stays
    centred, nothing touches it."""
    size = Size(1080, 1920)
    style = next(iter(STYLES.values()))
    layout = plan_layout(_row(size, **BRAND), TEMPLATES[name], size, (800, 500), style, logo_wh=LOGO_WH)
    title = max(t.font_size for t in layout.lines if t.role == "title")
    assert title >= 0.088 * size.w, (name, title)
    box = layout.subject_box
    assert box.w >= 0.9 * 0.88 * (size.w - 2 * round(size.w * 0.06)) - 2, box  # the slot's full width, as before
    assert abs(box.center[0] - size.w / 2) <= 2
    assert not layout.dropped


@pytest.mark.parametrize("name", ["diagonal", "framed"])
def test_a_tall_canvas_gives_the_copy_band_room_beside_a_tall_product(name):
    """On a story canvas the diagonal's copy band (logo, badge, title, subtitle, three points, price row) and
    the framed headline (logo, badge, title) were too shallow: the title fell to ~7% of the width (76–79 px
    on 1080) with a tall product; the band is deeper now and the product a little smaller."""
    size = Size(1080, 1920)
    style = next(iter(STYLES.values()))
    layout = plan_layout(_row(size, **BRAND), TEMPLATES[name], size, (600, 800), style, logo_wh=LOGO_WH)
    title = max(t.font_size for t in layout.lines if t.role == "title")
    assert title >= 0.08 * size.w, (name, title)
    assert layout.subject_box.h >= 0.38 * size.h  # still the largest element on the poster


def test_framed_on_a_banner_has_a_headline_band_deep_enough_for_its_title():
    """On a banner the framed headline band (badge over title) was 0.19 of the safe height: the title fell to 46
    px on 1200x628 under a column with room to spare. The wide framed layout's band is deeper."""
    size = Size(1200, 628)
    style = next(iter(STYLES.values()))
    layout = plan_layout(_row(size, **BRAND), TEMPLATES["framed"], size, (800, 500), style, logo_wh=LOGO_WH)
    sizes = {t.role: t.font_size for t in layout.lines}
    assert sizes["title"] >= 0.09 * size.h, sizes
    assert sizes["title"] > sizes["price"] > sizes["point"] > sizes["subtitle"] > sizes["list_price"]
    assert not layout.dropped


@pytest.mark.parametrize("name", BY_SHAPE["tall"])
def test_a_wide_product_takes_the_width_of_a_tall_canvas_with_plain_copy(name):
    """hero-top on a story canvas kept the square canvas's product slot (0.14-0.86 of the width): a jar under
    a title and a price was 616 px wide on 1080 over a bare lower half. Every tall composition gives a wide
    product at least 80% of the safe width, centred."""
    size = Size(1080, 1920)
    style = next(iter(STYLES.values()))
    layout = plan_layout(_row(size, title="臻颜修护面霜 24小时锁水", price="¥299"), TEMPLATES[name], size, (800, 500),
                         style)
    safe_w = size.w - 2 * round(size.w * 0.06)
    assert layout.subject_box.w >= 0.8 * safe_w, (name, layout.subject_box)
    assert abs(layout.subject_box.center[0] - size.w / 2) <= 2
