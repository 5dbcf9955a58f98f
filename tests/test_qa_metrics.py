"""Unit tests for the QA measurements and thresholds (pure functions, no OCR)."""

from __future__ import annotations

import numpy as np
import pytest

from ecomctl.config import load_config
from ecomctl.errors import ConfigError
from ecomctl.outcome import worst
from ecomctl.qa.metrics import (
    contrast_ratio,
    exact,
    iou,
    ned,
    normalize_text,
    palette,
    palette_distance,
    psnr,
    srgb_to_lab,
    ssim,
)
from ecomctl.qa.thresholds import grade, thresholds


@pytest.mark.parametrize("a, b", [
    ("ＳＡＬＥ　５０％", "sale 50%"),  # full-width letters, digits, ideographic space
    ("￥199", "¥199"),
    ("限时特惠 香水礼盒", "限时特惠香水礼盒"),  # OCR drops the space between CJK words
    ("买一送一", "买—送—"),  # the horizontal-stroke family reads alike
    ("“New” Arrival", '"new" arrival'),
])
def test_normalisation_equates_typographic_variants(a, b):
    assert normalize_text(a) == normalize_text(b)
    assert exact(a, b) and ned(a, b) == 1.0


def test_normalisation_keeps_real_differences():
    assert not exact("¥199.00", "¥189.00")
    assert not exact("限时特惠", "限时特价")


def test_ned_values():
    assert ned("abcd", "abcx") == pytest.approx(0.75)
    assert ned("", "abc") == 0.0
    assert ned("", "") == 1.0
    assert ned("abc", "abcdef") == pytest.approx(0.5)


def test_iou():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[:, :5] = True
    b[:, 2:7] = True
    assert iou(a, b) == pytest.approx(30 / 70)
    assert iou(a, a) == 1.0
    assert iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 1.0


def test_psnr_and_ssim_inside_region():
    rng = np.random.default_rng(0)
    ramp = np.linspace(40, 200, 64)
    a = np.stack([ramp[None, :].repeat(64, 0), ramp[:, None].repeat(64, 1), np.full((64, 64), 128.0)], -1)
    a = a.astype(np.uint8)
    region = np.zeros((64, 64), bool)
    region[16:48, 16:48] = True
    b = a.copy()
    b[~region] = 0  # changes outside the region do not count
    assert psnr(a, b, region) == 99.0
    assert ssim(a, b, region) > 0.99
    noisy = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    assert 20 < psnr(a, noisy, region) < 30
    assert ssim(a, noisy, region) < 0.95


def _textbook_psnr(a, b, region):
    diff = a[region].astype(np.float64) - b[region].astype(np.float64)
    mse = float(np.mean(diff * diff))
    return 99.0 if mse < 1e-10 else min(99.0, 10.0 * np.log10(255.0 ** 2 / mse))


def _textbook_ssim(a, b, region):
    import cv2

    ys, xs = np.nonzero(region)
    y0, y1, x0, x1 = max(0, ys.min() - 8), ys.max() + 9, max(0, xs.min() - 8), xs.max() + 9
    luma = [img[y0:y1, x0:x1].astype(np.float64) for img in (a, b)]
    ga, gb = (x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114 for x in luma)
    inside = region[y0:y1, x0:x1]
    gb = np.where(inside, gb, ga)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(ga), blur(gb)
    var_a, var_b, cov = blur(ga * ga) - mu_a ** 2, blur(gb * gb) - mu_b ** 2, blur(ga * gb) - mu_a * mu_b
    smap = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(smap[inside].mean())


@pytest.mark.parametrize("seed", range(4))
def test_fast_psnr_and_ssim_are_bit_identical_to_the_textbook_formulas(seed):
    """The integer PSNR sum and the in-place, table-luma SSIM must give the very floats of the plain
    formulas (the recorded QA figures may not move by one bit), on uint8 input and on float input."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    region = rng.random((90, 70)) > 0.3
    region[:5] = False
    want_psnr, want_ssim = _textbook_psnr(a, b, region), _textbook_ssim(a, b, region)
    assert psnr(a, b, region) == want_psnr and ssim(a, b, region) == want_ssim
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    assert psnr(fa, fb, region) == want_psnr and ssim(fa, fb, region) == want_ssim
    same_inside = np.where(region[..., None], a, b)  # equal to a in the region only: SSIM's shortcut to 1.0
    assert ssim(a, same_inside, region) == _textbook_ssim(a, same_inside, region) == 1.0
    assert psnr(a, same_inside, region) == _textbook_psnr(a, same_inside, region) == 99.0
    grey_a, grey_b = a[..., 0], b[..., 0]
    assert psnr(grey_a, grey_b, region) == _textbook_psnr(grey_a, grey_b, region)


def test_wcag_contrast_known_values():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    assert contrast_ratio((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.02)


def test_lab_and_palette_distance():
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]]))
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.1)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.1)
    assert lab[2] == pytest.approx([53.24, 80.09, 67.2], abs=0.2)
    red = np.full((32, 32, 3), (200, 30, 40), np.uint8)
    red2 = np.full((32, 32, 3), (202, 31, 40), np.uint8)
    blue = np.full((32, 32, 3), (30, 60, 200), np.uint8)
    assert palette_distance(palette(red), palette(red2)) < 2
    assert palette_distance(palette(red), palette(blue)) > 50


def test_thresholds_defaults_and_validation():
    t = thresholds(load_config())
    assert t.text.line_ned_fail == 0.8 and t.subject.iou_warn == 0.99
    assert thresholds({"subject": {"iou_fail": 0.5}}).subject.iou_fail == 0.5
    with pytest.raises(ConfigError, match=r"config qa\.subject\.iou_typo: Extra inputs"):
        thresholds({"subject": {"iou_typo": 1}})
    with pytest.raises(ConfigError, match=r"^config qa\.subject\.iou_fail: fail limit 0\.99 is above the warn "
                       r"limit 0\.5 \(a lower value is worse\)$"):
        thresholds({"subject": {"iou_fail": 0.99, "iou_warn": 0.5}})
    with pytest.raises(ConfigError, match=r"^config qa\.layout\.overlap_fail: fail limit 0\.01 is below the warn "
                       r"limit 0\.5 \(a higher value is worse\)$"):
        thresholds({"layout": {"overlap_fail": 0.01, "overlap_warn": 0.5}})


def test_thresholds_from_env_layer():
    cfg = load_config(environ={"ECOMCTL__QA__TEXT__LINE_NED_FAIL": "0.5"})
    assert thresholds(cfg).text.line_ned_fail == 0.5


def test_grade_and_worst():
    assert grade(0.995, 0.99, 0.95) == "pass"
    assert grade(0.97, 0.99, 0.95) == "warn"
    assert grade(0.9, 0.99, 0.95) == "fail"
    assert grade(0.2, 0.02, 0.1, higher_is_better=False) == "fail"
    assert grade(None, 1, 0) == "warn"
    assert worst(["pass", "fail", "warn"]) == "fail"
    assert worst([]) == "pass"


def test_ocr_threads_share_the_cores_between_workers(monkeypatch):
    from ecomctl.qa import ocr_section

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert ocr_section(load_config(environ={})).get("threads") is None
    assert ocr_section(load_config(environ={}, overrides={"run.workers": 4}))["threads"] == 2
    assert ocr_section(load_config(environ={}, overrides={"run.workers": 16}))["threads"] == 1
    assert ocr_section(load_config(environ={}, overrides={"run.workers": 4, "ocr.threads": 3}))["threads"] == 3
