"""Glyph export: the glyph image reproduces the typesetter's ink at the recorded boxes; per-glyph crops."""

from __future__ import annotations

import itertools

import numpy as np
from PIL import Image

from ecomctl.text.fonts import load_font
from ecomctl.text.glyph import GLYPH_CELL, SIZE_CODES, font_path_for, font_size_code, render_glyphs
from ecomctl.text.typeset import typeset
from ecomctl.types import Box, Layout, Size, Style, TextLine


def _line(text: str, x: int, y: int, size: int, weight: int, role: str = "title") -> TextLine:
    """A line whose box is its ink box, measured the way the layout stage does."""
    font = load_font(size, weight)
    l, t, r, b = font.getbbox(text, anchor="ls")
    return TextLine(role, text, Box(x, y, x + r - l, y + b - t), size, weight, (255, 255, 255))


def _layout() -> Layout:
    lines = (_line("夏日清凉 限时特惠", 20, 30, 44, 800), _line("Fresh Lemon Soda", 20, 110, 28, 400, "subtitle"),
             _line("¥19.9", 20, 170, 36, 700, "price"))
    return Layout(Size(420, 260), "t", Box(300, 150, 400, 250), lines)


def _ink_box(a: np.ndarray) -> Box:
    ys, xs = np.nonzero(a > 0)  # any coverage: FreeType's bbox includes the anti-aliased edge
    return Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _typeset_ink(layout: Layout) -> np.ndarray:
    scene = Image.new("RGB", layout.canvas.tuple, (0, 0, 0))
    poster, used = typeset(scene, layout, Style("t", ((0, 0, 0),), text=(255, 255, 255)), min_contrast=1.0)
    assert not used.plates
    return np.asarray(poster.convert("L"))


def test_glyph_ink_sits_where_the_typesetter_put_it_inside_each_box():
    layout = _layout()
    g, t = np.asarray(render_glyphs(layout).image), _typeset_ink(layout)
    for ln in layout.lines:
        b = ln.box.expand(3)
        got, want = _ink_box(g[b.y0:b.y1, b.x0:b.x1]), _ink_box(t[b.y0:b.y1, b.x0:b.x1])
        assert got == want, (ln.text, got, want)
        assert ln.box.expand(1).x0 <= got.x0 + b.x0 and got.x1 + b.x0 <= ln.box.x1 + 1  # inside the box


def test_glyph_image_matches_the_typesetters_pixels():
    layout = _layout()
    typeset_ink = _typeset_ink(layout) > 127
    glyph_ink = np.asarray(render_glyphs(layout).image) > 127
    iou = (typeset_ink & glyph_ink).sum() / (typeset_ink | glyph_ink).sum()
    assert iou >= 0.97, iou


def test_per_glyph_boxes_codes_and_local_positions():
    layout = _layout()
    r = render_glyphs(layout)
    assert "".join(g.char for g in r.glyphs) == "".join(ln.text.replace(" ", "") for ln in layout.lines)
    title = [g for g in r.glyphs if g.line == 0]
    assert [g.index for g in title] == [0, 1, 2, 3, 5, 6, 7, 8]  # the space has no glyph
    assert all(a.box.x1 <= b.box.x0 + 2 for a, b in itertools.pairwise(title))  # left to right, no big overlap
    for g in r.glyphs:
        lb = layout.lines[g.line].box
        assert lb.x0 <= g.box.x0 < g.box.x1 <= lb.x1 and lb.y0 <= g.box.y0 < g.box.y1 <= lb.y1
        assert all(0 <= v <= 1 for v in g.local) and g.local[0] < g.local[2]
    codes = {g.line: g.size_code for g in r.glyphs}
    assert codes[0] > codes[2] > codes[1]
    atlas = r.atlas()
    assert atlas.size == (GLYPH_CELL * len(r.glyphs), GLYPH_CELL)
    cells = np.asarray(atlas).reshape(GLYPH_CELL, len(r.glyphs), GLYPH_CELL).swapaxes(0, 1)
    assert all(c.max() > 200 for c in cells)  # every cell holds its glyph


def test_font_size_code_is_relative_and_bounded():
    assert font_size_code(40, 800) == font_size_code(80, 1600)
    assert font_size_code(10, 800) < font_size_code(60, 800)
    assert font_size_code(10_000, 800) == SIZE_CODES - 1 and font_size_code(0, 800) == 0


def test_ocr_boxes_get_text_stretched_into_them():
    line = TextLine("text", "Summer Sale", Box(10, 10, 250, 40), 24, 400, (255, 255, 255))
    r = render_glyphs(Layout(Size(300, 60), "found", Box(0, 0, 1, 1), (line,)))
    got = _ink_box(np.asarray(r.image))
    assert max(abs(u - v) for u, v in zip(got.as_list(), [10, 10, 250, 40])) <= 1, got
    assert render_glyphs(Layout(Size(50, 50), "t", Box(0, 0, 1, 1), ())).atlas() is None


def test_missing_recorded_font_falls_back_to_the_default(tmp_path):
    assert font_path_for("") is None and font_path_for(str(tmp_path / "gone.ttf")) is None
    real = tmp_path / "f.ttf"
    real.write_bytes(b"x")
    assert font_path_for(str(real)) == str(real)
