"""check_poster / check_variants on hand-made posters: clean passes; each kind of damage fails with its reason."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecomctl.config import load_config
from ecomctl.qa import check_poster, check_variants, merge_checks
from ecomctl.text.fonts import load_font
from ecomctl.types import Check, QAResult, Size
from tests._qa_posters import damage_line, make_poster, with_image


def by_name(result: QAResult) -> dict[str, Check]:
    return {c.name: c for c in result.checks}


@pytest.fixture(scope="module")
def cfg():
    return load_config(environ={})


@pytest.fixture(scope="module")
def pixels_only():
    return load_config(environ={}, overrides={"qa.text.enabled": False})


@pytest.fixture(scope="module")
def poster():
    return make_poster()


@pytest.fixture(scope="module")
def clean(poster, cfg):
    return check_poster(poster, cfg)


def test_clean_poster_passes_every_check(clean):
    assert clean.status == "pass", clean.reasons
    c = by_name(clean)
    assert c["text.sen_acc"].value == 1.0 and c["text.ned"].value == 1.0
    assert c["subject.iou"].value >= 0.99 and c["subject.psnr"].value > 40 and c["subject.ssim"].value > 0.99
    assert c["text.stray"].value == 0
    assert [d["read"] for d in clean.details["text"]["lines"]][1:] == ["Eau de Parfum 50ml", "¥199.00"]


def test_damaged_line_fails_naming_the_line(poster, cfg):
    result = check_poster(damage_line(poster, 0), cfg)
    assert result.status == "fail"
    ned = by_name(result)["text.ned"]
    assert ned.status == "fail"
    assert ned.reason.startswith('title line 1 "限时特惠 香水礼盒" read as "')
    assert "subtitle" not in ned.reason and "price" not in ned.reason
    assert by_name(result)["text.sen_acc"].value == pytest.approx(2 / 3, abs=1e-3)


def test_damaged_price_is_named(poster, cfg):
    reason = by_name(check_poster(damage_line(poster, 2), cfg))["text.ned"].reason
    assert reason.startswith('price line 1 "¥199.00" read as') and "(NED " in reason


def test_blank_image_fails(poster, cfg):
    blank = Image.new("RGB", poster.image.size, (255, 255, 255))
    result = check_poster(with_image(poster, blank), cfg)
    assert result.status == "fail"
    flat = by_name(result)["image.flat"]
    assert flat.status == "fail" and flat.reason.startswith("image is blank/flat (grey std 0.0")
    assert by_name(result)["text.ned"].value == 0.0


def test_stray_text_outside_copy_and_product_warns(poster, cfg):
    img = poster.image.copy()
    ImageDraw.Draw(img).text((30, 440), "WATERMARK", font=load_font(28, 700), fill=(40, 40, 40))
    result = check_poster(with_image(poster, img), cfg)
    stray = by_name(result)["text.stray"]
    assert stray.status == "warn" and stray.value == 1.0
    assert 'unexpected text "WATERMARK" at [' in stray.reason
    assert result.status == "warn"


def test_stray_scan_runs_only_where_the_backend_can_draw_text(poster, cfg):
    img = poster.image.copy()
    ImageDraw.Draw(img).text((30, 440), "WATERMARK", font=load_font(28, 700), fill=(40, 40, 40))
    diffusion = replace(poster, image=img, meta={"backend": {"name": "sdxs"}})
    assert by_name(check_poster(diffusion, cfg))["text.stray"].status == "warn"
    compose = replace(poster, image=img, meta={"backend": {"name": "compose", "draws_text": False}})
    result = check_poster(compose, cfg)
    assert by_name(result)["text.stray"].status == "pass"
    assert result.details["text"]["stray_scan"] == "skipped: the backend draws no text"


def test_print_on_the_product_is_not_stray(poster, cfg):
    img = poster.image.copy()
    b = poster.layout.subject_box
    ImageDraw.Draw(img).text((b.x0 + 40, b.y0 + 150), "LUXE", font=load_font(26, 700), fill=(250, 250, 250))
    stray = by_name(check_poster(with_image(poster, img), cfg))["text.stray"]
    assert stray.status == "pass"


def test_repainted_product_fails_subject_fidelity(poster, pixels_only):
    arr = np.asarray(poster.image).copy()
    b = poster.layout.subject_box
    arr[b.y0 + b.h // 2: b.y1, b.x0:b.x1] = (90, 140, 60)  # lower half of the product redrawn
    c = by_name(check_poster(with_image(poster, Image.fromarray(arr)), pixels_only))
    assert c["subject.iou"].status == "fail" and c["subject.iou"].value < 0.7
    assert c["subject.iou"].reason.startswith("product re-found on")
    assert c["subject.psnr"].status == "fail" and c["subject.ssim"].status == "fail"


def test_subject_checks_without_the_background_layer(poster, pixels_only):
    c = by_name(check_poster(replace(poster, background=None), pixels_only))
    assert c["subject.iou"].value >= 0.99 and c["subject.psnr"].status == "pass"


def test_text_over_the_product_and_low_contrast_fail(pixels_only):
    spec = (("title", "限时特惠", 40, 800), ("price", "¥99", 40, 700))
    p = make_poster(copy=spec, text_color=(238, 215, 185))  # text colour close to the background
    c = by_name(check_poster(p, pixels_only))
    assert c["layout.contrast"].status == "fail"
    assert c["layout.contrast"].reason.startswith("title line 1 contrast 1.")
    moved = replace(p.layout, lines=(replace(p.layout.lines[0], box=p.layout.subject_box.shift(0, 0)),))
    c = by_name(check_poster(replace(p, layout=moved), pixels_only))
    assert c["layout.overlap"].status == "fail" and c["layout.overlap"].reason.startswith("title line 1 covers the product")


def test_margin_and_size_and_mode(poster, pixels_only):
    off = replace(poster.layout.lines[0], box=poster.layout.lines[0].box.shift(-40, 0))
    p = replace(poster, layout=replace(poster.layout, lines=(off,)))
    c = by_name(check_poster(p, pixels_only))
    assert c["layout.margin"].status == "fail" and "title line 1 is -" in c["layout.margin"].reason
    p = replace(poster, row=replace(poster.row, size=Size(1024, 1024)), image=poster.image.convert("RGBA"))
    c = by_name(check_poster(p, pixels_only))
    assert c["image.size"].reason == "size 512x512, requested 1024x1024"
    assert c["image.mode"].reason == "mode RGBA, expected RGB"


def test_thresholds_change_the_verdict(poster):
    strict = load_config(environ={}, overrides={"qa.text.enabled": False, "qa.layout.contrast_warn": 30.0,
                                                "qa.layout.contrast_fail": 20.0})
    assert by_name(check_poster(poster, strict))["layout.contrast"].status == "fail"


def test_variants_flag_near_duplicates_but_not_distinct_styles(pixels_only):
    a = make_poster(variant=1)
    b = make_poster(variant=2)  # same pixels: a duplicate
    c = make_poster(variant=3, top=(20, 40, 90), bottom=(10, 20, 50), text_color=(250, 250, 250))
    base = [QAResult("pass")] * 3
    out = check_variants([a, b, c], base, pixels_only)
    ca, cc = by_name(out[0]), by_name(out[2])
    assert out[0].status == "warn" and ca["variants.phash"].value == 0.0
    assert ca["variants.phash"].reason == "near-duplicate of SKU-1-v2 (pHash distance 0 ≤ 6)"
    assert ca["variants.palette_de"].reason.startswith("palette too close to SKU-1-v2 (ΔE 0.0")
    assert out[2].status == "pass" and cc["variants.palette_de"].value > 20
    fail_cfg = load_config(environ={}, overrides={"qa.variants.status": "fail"})
    assert check_variants([a, b], base[:2], fail_cfg)[0].status == "fail"
    assert check_variants([a], base[:1], pixels_only) == base[:1]  # a lone variant has nothing to compare


def test_a_pinned_style_may_share_its_palette(pixels_only):
    a = make_poster(variant=1, style="festive-red")
    b = make_poster(variant=2, style="festive-red", text_color=(120, 20, 20))
    out = check_variants([a, b], [QAResult("pass")] * 2, pixels_only)
    c = by_name(out[0])
    assert c["variants.palette_de"].status == "pass" and c["variants.palette_de"].value < 6
    assert c["variants.phash"].status == "warn"  # still the same picture apart from the text colour


def test_merge_checks_replaces_and_recomputes():
    r = QAResult("pass", (Check("x", 1.0, "pass"),))
    merged = merge_checks(r, [Check("x", 0.0, "fail", "bad"), Check("y", 1.0, "warn", "hm")])
    assert merged.status == "fail" and [c.name for c in merged.checks] == ["x", "y"]


def test_mismatched_subject_mask_fails_without_crashing(poster, cfg):
    result = check_poster(replace(poster, subject_mask=np.zeros((10, 10), np.uint8)), cfg)
    c = by_name(result)
    assert c["subject.iou"].status == "fail"
    assert c["subject.iou"].reason == "subject mask/layer size differs from the image"
    assert c["text.sen_acc"].value == 1.0


def _textbook_expected(poster):
    out = np.asarray(poster.image.convert("RGB")).astype(np.float32)
    prod = np.asarray(poster.subject_layer.convert("RGB")).astype(np.float32)
    alpha = np.asarray(poster.subject_layer.getchannel("A")).astype(np.float32)[..., None] / 255.0
    bg = np.asarray(poster.background.convert("RGB")).astype(np.float32)
    return alpha * prod + (1 - alpha) * bg, alpha[..., 0], out


def test_expected_product_is_the_textbook_composite(poster):
    """The table alpha and byte-level scene test give the float32 composite of the plain formula, bit for bit;
    a product pasted where the scene is unknown (background equals the output under it) is flagged."""
    from ecomctl.qa.checks import expected_product

    layer = np.asarray(poster.subject_layer)
    assert ((layer[..., 3] > 0) & (layer[..., 3] < 255)).any()  # the fixture has a soft edge to blend
    expected, alpha, out, known = expected_product(poster)
    want_expected, want_alpha, want_out = _textbook_expected(poster)
    assert known and np.array_equal(expected, want_expected) and np.array_equal(alpha, want_alpha)
    assert np.array_equal(out, want_out) and expected.dtype == alpha.dtype == out.dtype == np.float32
    same = replace(poster, background=poster.image.copy())
    expected, _, _, known = expected_product(same)
    assert not known and np.array_equal(expected, np.asarray(poster.subject_layer.convert("RGB")).astype(np.float32))
