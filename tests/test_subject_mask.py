"""Shared mask cleanup: holes, islands, components kept, feathered edge, IoU, colour decontamination."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ecomctl.errors import ExtractionError
from ecomctl.qa.metrics import iou
from ecomctl.subject.mask import (
    Cleanup,
    clean_mask,
    decontaminate,
    feather,
    fill_holes,
    keep_components,
    mask_bbox,
)


def _ring() -> np.ndarray:
    m = np.zeros((60, 80), bool)
    m[10:50, 10:50] = True
    m[20:40, 20:40] = False  # an enclosed hole (a white label on a white backdrop)
    return m


def test_fill_holes_fills_enclosed_but_not_open_regions():
    filled = fill_holes(_ring())
    assert filled[10:50, 10:50].all()
    cup = _ring()
    cup[20:40, 40:50] = False  # the hole now opens to the outside: it is backdrop, keep it open
    assert not fill_holes(cup)[30, 30]


def test_keep_components_keeps_pairs_drops_specks():
    m = np.zeros((100, 200), bool)
    m[10:90, 10:90] = True  # product 1
    m[20:80, 110:170] = True  # product 2 of a pair (56 % of the first)
    m[5:8, 190:193] = True  # a speck
    kept = keep_components(m, keep_ratio=0.15, min_area=0.002)
    assert kept[50, 50] and kept[50, 140] and not kept[6, 191]
    alone = keep_components(m, keep_ratio=0.9, min_area=0.002)
    assert alone[50, 50] and not alone[50, 140]


def test_clean_mask_bridges_gaps_and_raises_when_empty():
    m = _ring()
    m[30, :] = False  # a 1-px cut through the product
    out = clean_mask(m, Cleanup(close_px=2))
    assert out[30, 30] and out[30, 12]
    with pytest.raises(ExtractionError, match="mask is empty"):
        clean_mask(np.zeros((20, 20), bool))


def test_feather_is_soft_only_at_the_edge_and_keeps_the_boundary():
    hard = np.zeros((64, 64), bool)
    hard[16:48, 16:48] = True
    soft = feather(hard, 1.5)
    assert soft.dtype == np.uint8 and soft[32, 32] == 255 and soft[2, 2] == 0
    assert 0 < soft[32, 16] < 255  # edge pixel partially transparent
    assert iou(soft, hard.astype(np.uint8) * 255) > 0.97
    assert set(np.unique(feather(hard, 0))) == {0, 255}


def test_iou_and_bbox():
    a = np.zeros((10, 10), np.uint8)
    a[0:5, 0:10] = 255
    b = np.zeros((10, 10), np.uint8)
    b[0:10, 0:5] = 255
    assert iou(a, b) == pytest.approx(25 / 75)
    assert iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert mask_bbox(b).as_list() == [0, 0, 5, 10]


def test_decontaminate_unmixes_the_backdrop_from_edge_pixels():
    red, grey = np.array([200, 0, 0], np.float32), np.array([128, 128, 128], np.float32)
    alpha = np.zeros((40, 40), np.float32)
    alpha[10:30, 10:30] = 1.0
    alpha[10:30, 30] = 0.5  # a soft column on the right edge
    rgb = alpha[..., None] * red + (1 - alpha[..., None]) * grey
    img = Image.fromarray(rgb.round().astype(np.uint8), "RGB")
    mask = (alpha * 255).round().astype(np.uint8)
    out = np.asarray(decontaminate(img, mask)).astype(int)
    assert np.abs(out[20, 30] - red).max() <= 3  # was (164, 64, 64): the grey is gone
    assert (out[20, 20] == [200, 0, 0]).all() and (out[2, 2] == [128, 128, 128]).all()  # untouched
