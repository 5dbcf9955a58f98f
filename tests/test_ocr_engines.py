"""OCR engine registry: rapidocr reads rendered CJK/latin lines offline; paddleocr fails with a clear line."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecomctl.errors import BackendUnavailable, ConfigError
from ecomctl.qa.metrics import exact
from ecomctl.text.fonts import load_font
from ecomctl.text.ocr import OCR_ENGINES, get_ocr, ocr_settings, quad_to_box
from ecomctl.types import Box


def render_line(text: str, size: int = 40, weight: int = 400, fg=(20, 20, 20), bg=(245, 240, 230)) -> np.ndarray:
    font = load_font(size, weight)
    _, _, x1, y1 = font.getbbox(text)
    img = Image.new("RGB", (x1 + 24, y1 + 24), bg)
    ImageDraw.Draw(img).text((12, 12), text, font=font, fill=fg)
    return np.asarray(img)


def test_registry_knows_both_engines_and_suggests_names():
    get_ocr()  # loads the built-ins
    assert {"rapidocr", "paddleocr"} <= set(OCR_ENGINES.names())
    with pytest.raises(ConfigError, match=r"unknown OCR engine 'rapidocrr'; did you mean 'rapidocr'\?"):
        get_ocr({"engine": "rapidocrr"})


def test_engine_is_loaded_once_per_process():
    assert get_ocr() is get_ocr({})
    assert get_ocr({"threads": 1}) is not get_ocr()


def test_settings_are_validated():
    with pytest.raises(ConfigError, match=r"config ocr\.treads: Extra inputs"):
        ocr_settings({"treads": 2})
    with pytest.raises(BackendUnavailable, match=r"unsupported ocr\.rapidocr settings \['model_type'\]"):
        get_ocr({"rapidocr": {"model_type": "server"}})


def test_rapidocr_recognizes_a_batch_of_crops():
    texts = ["限时特惠 香水礼盒", "¥199.00", "Eau de Parfum 50ml", "新品上市"]
    crops = [render_line(t, 36 + 4 * i, 400 + 150 * i) for i, t in enumerate(texts)]
    reads = get_ocr().recognize(crops)
    assert [exact(r.text, t) for r, t in zip(reads, texts)] == [True] * 4
    assert all(0.5 < r.score <= 1.0 for r in reads)
    assert get_ocr().recognize([]) == []


def test_a_line_reads_the_same_alone_or_beside_longer_lines_and_repeats_come_from_memory(monkeypatch):
    engine = get_ocr({"threads": 1})
    short, long_ = render_line("¥59", 40), render_line("Drop-proof case for iPhone 15 Pro · 2 for 1", 40)
    alone = engine.recognize([short])[0]
    engine._reads.clear()
    beside = engine.recognize([long_, short, long_])
    assert beside[1] == alone and exact(alone.text, "¥59")  # no padding to the widest line of the call
    assert beside[0] == beside[2] and exact(beside[0].text, "Drop-proof case for iPhone 15 Pro · 2 for 1")
    calls = []
    monkeypatch.setattr(type(engine), "_read_line", lambda self, crop: calls.append(crop) or alone)
    engine.recognize([short.copy(), long_])  # same pixels (a copy): both answered from memory
    assert calls == []
    engine.recognize([short[:, :-1]])  # one column less: a different crop, read afresh
    assert len(calls) == 1


def test_rapidocr_detects_and_reads_a_page():
    page = Image.new("RGB", (640, 360), (250, 250, 250))
    d = ImageDraw.Draw(page)
    d.text((40, 40), "春季新品", font=load_font(48, 700), fill=(10, 10, 10))
    d.text((40, 200), "SALE 50%", font=load_font(40, 500), fill=(180, 20, 30))
    rgb = np.asarray(page)
    boxes = get_ocr().detect(rgb)
    assert len(boxes) == 2
    lines = sorted(get_ocr().read(rgb), key=lambda ln: ln.box.y0)
    assert exact(lines[0].text, "春季新品") and exact(lines[1].text, "SALE 50%")
    assert lines[0].box.y0 < 60 < lines[0].box.y1 and lines[1].box.y0 < 220 < lines[1].box.y1


def test_detect_at_a_reduced_scale_returns_boxes_in_image_pixels():
    page = Image.new("RGB", (1600, 900), (240, 245, 250))
    ImageDraw.Draw(page).text((900, 600), "新品上市 NEW", font=load_font(72, 700), fill=(20, 20, 20))
    rgb = np.asarray(page)
    full, small = get_ocr().detect(rgb), get_ocr().detect(rgb, max_side=640)
    assert len(full) == len(small) == 1
    for box in (full[0], small[0]):
        assert abs(box.x0 - 900) < 24 and 590 < box.y0 < 640 and 670 < box.y1 < 730 and box.x1 > 1250


def test_read_of_a_blank_image_is_empty():
    blank = np.full((200, 300, 3), 255, np.uint8)
    assert get_ocr().read(blank) == []
    assert get_ocr().detect(blank) == []


def test_quad_to_box():
    assert quad_to_box([[10.2, 5], [50, 5.5], [49.5, 20.1], [10, 20]]) == Box(10, 5, 50, 21)


def test_paddleocr_missing_raises_a_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "paddleocr", None)  # import fails as if not installed
    with pytest.raises(BackendUnavailable) as err:
        get_ocr({"engine": "paddleocr"})
    msg = str(err.value)
    assert msg.startswith("OCR engine 'paddleocr' unavailable: paddleocr is not installed")
    assert "pip install 'ecomctl[paddle]'" in msg and "ocr.engine: rapidocr" in msg
    assert "\n" not in msg


def test_paddleocr_without_its_models_raises_a_clear_line(monkeypatch):
    fake = types.ModuleType("paddleocr")

    def no_models(**kwargs):
        raise RuntimeError("No model hoster is available! Please check your network connection")

    fake.TextRecognition = no_models
    fake.PaddleOCR = no_models
    monkeypatch.setitem(sys.modules, "paddleocr", fake)
    engine = get_ocr({"engine": "paddleocr", "min_score": 0.6})  # importable: usable until it loads models
    with pytest.raises(BackendUnavailable, match=r"^OCR engine 'paddleocr' cannot load its models \(No model hoster"):
        engine.recognize([np.zeros((48, 100, 3), np.uint8)])


def test_no_section_reuses_the_process_engine(monkeypatch):
    from ecomctl.text import ocr

    monkeypatch.setattr(ocr, "_CACHE", {})
    configured = ocr.get_ocr({"threads": 1})
    assert ocr.get_ocr(None) is configured and ocr.get_ocr({"threads": 1}) is configured
