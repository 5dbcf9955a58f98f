"""The poster-layout literature's metrics (qa/layout_metrics.py) on hand-built layouts whose values are known
exactly: each test would fail on a wrong formula (a wrong pairing, normaliser, direction or element set)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecomctl.qa import layout_metrics as lm
from ecomctl.qa.layout_metrics import Element
from ecomctl.types import Box, Layout, Plate, Poster, Size, SkuRow, Style, TextLine
from tests._qa_posters import make_poster

SIZE = Size(100, 100)
BLACK = (0, 0, 0)


def _text(box: Box) -> Element:
    return Element("text", box, BLACK)


def _poster(lines=(), plates=(), image: Image.Image | None = None, alpha: np.ndarray | None = None) -> Poster:
    image = image or Image.new("RGB", SIZE.tuple, (255, 255, 255))
    layer = Image.new("RGBA", SIZE.tuple, (0, 0, 0, 0))
    if alpha is not None:
        layer.putalpha(Image.fromarray(alpha.astype(np.uint8), "L"))
    row = SkuRow(sku="S", image=Path("/nonexistent.png"), title="t", size=SIZE)
    layout = Layout(SIZE, "test", Box(0, 0, 1, 1), tuple(lines), tuple(plates))
    mask = np.asarray(layer.getchannel("A")).copy()
    return Poster(row=row, variant=1, seed=0, image=image, background=image, subject_mask=mask, subject_layer=layer,
                  layout=layout, style=Style(name="s", background=((255, 255, 255),)))


def _line(box: Box, block: int, role: str = "title") -> TextLine:
    return TextLine(role, "x", box, 20, 400, BLACK, block)


def test_elements_are_copy_blocks_plates_and_logo():
    lines = [_line(Box(10, 10, 50, 20), 0), _line(Box(10, 22, 40, 30), 0), _line(Box(10, 60, 30, 70), 1, "price")]
    els = lm.elements(_poster(lines, [Plate("price", Box(5, 55, 35, 75), BLACK, "tag")]).layout)
    assert [(e.kind, e.box) for e in els] == [("text", Box(10, 10, 50, 30)), ("text", Box(10, 60, 30, 70)),
                                              ("underlay", Box(5, 55, 35, 75))]


def test_validity_is_the_share_of_elements_of_at_least_a_thousandth_of_the_canvas():
    # 100x100 canvas: 10 px² is exactly 0.1% (valid), 9 px² is not
    els = [_text(Box(0, 0, 10, 1)), _text(Box(0, 0, 9, 1)), _text(Box(0, 0, 50, 50)), _text(Box(0, 0, 3, 3))]
    assert lm.validity(els, SIZE) == 0.5
    assert lm.validity([], SIZE) is None


def test_overlay_is_the_mean_iou_over_ordered_pairs_of_non_underlays():
    a, b, c = Box(0, 0, 10, 10), Box(5, 0, 15, 10), Box(50, 50, 60, 60)
    # IoU(a, b) = 50 / 150 = 1/3; pairs with c are 0; 3 elements -> 6 ordered pairs, 2 of them 1/3
    assert lm.overlay([_text(a), _text(b), _text(c)]) == pytest.approx((2 / 3) / 6)
    # an underlay under both is not an element of Ove
    assert lm.overlay([_text(a), _text(b), Element("underlay", Box(0, 0, 20, 20))]) == pytest.approx(1 / 3)
    assert lm.overlay([_text(a), Element("underlay", a)]) is None  # one non-underlay: nothing to overlap


def test_alignment_takes_each_elements_closest_coordinate_through_minus_log10():
    a, b = Box(10, 10, 40, 20), Box(10, 50, 60, 60)  # both start at x = 0.10: each is perfectly aligned (d = 0)
    # c's coordinates (0.70, 0.80, 0.90 | 0.80, 0.85, 0.90); its nearest is 0.30 away (b's right 0.60 vs 0.90,
    # b's bottom 0.60 vs 0.90, b's centre y 0.55 vs 0.85): g(0.30) = -log10(0.70)
    c = Box(70, 80, 90, 90)
    expected = (0.0 + 0.0 - math.log10(1 - 0.30)) / 3
    assert lm.alignment([_text(a), _text(b), _text(c)], SIZE) == pytest.approx(expected)
    assert lm.alignment([_text(a), _text(b)], SIZE) == 0.0
    assert lm.alignment([_text(a)], SIZE) is None


def test_underlay_effectiveness_loose_and_strict():
    plate = Element("underlay", Box(0, 0, 50, 50))
    inside, half = _text(Box(10, 10, 20, 20)), _text(Box(40, 0, 60, 10))  # wholly in / half in (100 of 200)
    assert lm.underlay([plate, inside]) == (1.0, 1.0)
    assert lm.underlay([plate, half]) == (0.5, 0.0)
    # two underlays: one holds a whole element, one holds nothing -> loose (1 + 0) / 2, strict 1/2
    empty = Element("underlay", Box(80, 80, 90, 90))
    assert lm.underlay([plate, empty, inside]) == (0.5, 0.5)
    assert lm.underlay([inside]) == (None, None)


def test_utility_and_occlusion_from_the_product_alpha():
    alpha = np.zeros((100, 100))
    alpha[:, 50:] = 255  # the product fills the right half: saliency 1 there
    els = [_text(Box(0, 0, 50, 20)), _text(Box(40, 80, 60, 100))]  # the second is half on the product
    uti, occ = lm.utility_occlusion(els, alpha.astype(np.uint8), SIZE)
    # free mass = 5000 px; covered free px = 1000 + 200 = 1200; covered px = 1000 + 400, salient 200
    assert uti == pytest.approx(1200 / 5000)
    assert occ == pytest.approx(200 / 1400)


def test_readability_is_the_gradient_under_text_off_the_ink_and_off_plates():
    arr = np.full((100, 100, 3), 255, np.uint8)
    arr[:, :30] = 0  # a hard edge at x = 30: the image's strongest gradient (normaliser 1.0)
    arr[(np.arange(100) // 2) % 2 == 0, 60:] = 200  # stripes two rows high on the right: a busy scene
    calm = _line(Box(35, 10, 55, 20), 0)  # on flat white: no gradient
    busy = _line(Box(70, 10, 90, 20), 1)  # on the stripes
    grad = lm.gradient(arr)
    assert grad.max() == pytest.approx(1.0)
    assert lm.readability(lm.elements(_poster([calm]).layout), arr, SIZE) == pytest.approx(0.0)
    on_busy = lm.readability(lm.elements(_poster([busy]).layout), arr, SIZE)
    assert on_busy == pytest.approx(float(grad[10:20, 70:90].mean()))
    assert on_busy > 0.1
    plate = Plate("title", Box(65, 5, 95, 25), BLACK, "band")  # text on a plate: not measured
    assert lm.readability(lm.elements(_poster([busy], [plate]).layout), arr, SIZE) is None


def test_readability_leaves_the_copys_own_ink_out():
    arr = np.full((100, 100, 3), 255, np.uint8)
    arr[:, :5] = 0  # strong edge elsewhere
    arr[12:18, 40:60] = 0  # a black "glyph" bar inside the text box, in the line's colour
    line = _line(Box(30, 5, 70, 25), 0)
    assert lm.readability(lm.elements(_poster([line]).layout), arr, SIZE) == pytest.approx(0.0)


def test_a_hand_made_poster_measures_as_expected():
    poster = make_poster()
    rgb = np.asarray(poster.image)
    values = lm.measure(poster, rgb)
    assert values["val"] == 1.0 and values["und_l"] is None and values["und_s"] is None
    assert values["ove"] == 0.0  # three stacked lines, no overlap
    assert values["ali"] == 0.0  # left-aligned copy
    assert values["occ"] == 0.0  # copy off the product
    assert 0 < values["uti"] < 1 and values["rea"] is not None and values["rea"] < 0.05  # calm gradient


def test_checks_are_named_layout_metrics_and_informational():
    poster = make_poster()
    checks, details = lm.layout_metric_checks(poster, np.asarray(poster.image))
    assert [c.name for c in checks] == [f"layout.{n}" for n in lm.NAMES]
    assert {c.status for c in checks} == {"pass"}
    assert details == {"elements": {"text": 3}}


def test_check_poster_carries_them():
    from ecomctl.config import load_config
    from ecomctl.qa import check_poster

    result = check_poster(make_poster(), load_config(environ={}, overrides={"qa.text.enabled": False}))
    assert {f"layout.{n}" for n in lm.NAMES} <= set(result.metrics)
    assert result.details["layout_metrics"] == {"elements": {"text": 3}}
