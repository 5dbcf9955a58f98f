"""Glyph conditions from a Layout: glyph image (text white on black at its place) + per-glyph crops (TFEM inputs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from ecomctl.text.fonts import load_font
from ecomctl.types import Box, Layout, Size, TextLine

GLYPH_CELL = 64  # side of one per-glyph crop in the atlas
SIZE_CODES = 32  # font-size codes 0..31: relative size font_size / canvas height, linear up to MAX_REL_SIZE
MAX_REL_SIZE = 0.20


@dataclass(frozen=True)
class Glyph:
    """One drawn character: absolute ink box on the canvas, font-size code, position inside its line."""

    char: str
    line: int  # index into Layout.lines
    index: int  # character index in the line's text
    box: Box  # absolute ink box on the canvas
    size_code: int
    local: tuple[float, float, float, float]  # box relative to the line's box, each in 0..1

    def as_dict(self) -> dict:
        return {"char": self.char, "line": self.line, "index": self.index, "box": self.box.as_list(),
                "size_code": self.size_code, "local": list(self.local)}


@dataclass(frozen=True, eq=False)
class GlyphRender:
    image: Image.Image  # L, canvas size, text 255 on 0
    glyphs: tuple[Glyph, ...]

    def atlas(self, cell: int = GLYPH_CELL) -> Image.Image | None:
        """Per-glyph crops side by side (cell × cell each, aspect kept, centred); None without glyphs."""
        if not self.glyphs:
            return None
        sheet = Image.new("L", (cell * len(self.glyphs), cell), 0)
        for i, g in enumerate(self.glyphs):
            sheet.paste(_cell_crop(self.image, g.box, cell), (i * cell, 0))
        return sheet


def font_size_code(font_size: float, canvas_h: int) -> int:
    """Quantise a font size relative to the canvas height into SIZE_CODES buckets."""
    rel = max(0.0, font_size / max(1, canvas_h)) / MAX_REL_SIZE
    return int(min(SIZE_CODES - 1, rel * SIZE_CODES))


def font_path_for(font: str | None) -> str | None:
    """The `path` argument for load_font, as the typesetter passes it (None = the default Noto face).

    A recorded font file that no longer exists (corpus built on another machine) falls back to the default.
    """
    return str(font) if font and Path(font).is_file() else None


def render_glyphs(layout: Layout) -> GlyphRender:
    """Draw every line of `layout` white on black so its ink fills the line's recorded box."""
    canvas = Image.new("L", layout.canvas.tuple, 0)
    path = font_path_for(layout.font)
    glyphs: list[Glyph] = []
    for n, line in enumerate(layout.lines):
        glyphs += _draw_line(canvas, n, line, path, layout.canvas.h)
    return GlyphRender(canvas, tuple(glyphs))


def fit_font_size(text: str, box: Box, weight: int = 400, path: str | None = None) -> int:
    """Font size whose ink height for `text` matches the box height (for text found by OCR)."""
    size = max(4, box.h)
    for _ in range(2):
        bb = load_font(size, weight, path).getbbox(text)
        ink_h = max(1, bb[3] - bb[1])
        size = max(4, round(size * box.h / ink_h))
    return size


def _draw_line(canvas: Image.Image, n: int, line: TextLine, path: str | None, canvas_h: int) -> list[Glyph]:
    box = line.box.clip(Size(*canvas.size))
    if not line.text.strip() or box.w <= 0 or box.h <= 0:
        return []
    font = load_font(line.font_size, line.weight, path)
    bb = font.getbbox(line.text)
    ink_w, ink_h = max(1, bb[2] - bb[0]), max(1, bb[3] - bb[1])
    tile = Image.new("L", (ink_w, ink_h), 0)
    ImageDraw.Draw(tile).text((-bb[0], -bb[1]), line.text, fill=255, font=font)
    if tile.size != (box.w, box.h):  # OCR boxes or rounding: stretch the ink into the recorded box
        tile = tile.resize((box.w, box.h), Image.Resampling.BILINEAR)
    region = (box.x0, box.y0, box.x1, box.y1)
    canvas.paste(ImageChops.lighter(canvas.crop(region), tile), region[:2])
    sx, sy = box.w / ink_w, box.h / ink_h
    code = font_size_code(line.font_size * sy, canvas_h)
    return [_glyph(n, i, ch, cb, box, sx, sy, code) for i, ch, cb in _char_boxes(font, line.text, bb)]


def _char_boxes(font: ImageFont.FreeTypeFont, text: str, bb: tuple[int, ...]):
    """(index, char, ink box relative to the line's ink origin) for every visible character."""
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        cb = font.getbbox(ch)
        if cb[2] <= cb[0] or cb[3] <= cb[1]:
            continue
        x = font.getlength(text[:i])
        yield i, ch, (x + cb[0] - bb[0], cb[1] - bb[1], x + cb[2] - bb[0], cb[3] - bb[1])


def _glyph(n: int, i: int, ch: str, cb, box: Box, sx: float, sy: float, code: int) -> Glyph:
    x0, y0 = int(np.floor(cb[0] * sx)), int(np.floor(cb[1] * sy))
    x1, y1 = int(np.ceil(cb[2] * sx)), int(np.ceil(cb[3] * sy))
    x0, x1 = max(0, min(x0, box.w - 1)), max(1, min(x1, box.w))
    y0, y1 = max(0, min(y0, box.h - 1)), max(1, min(y1, box.h))
    local = (x0 / box.w, y0 / box.h, x1 / box.w, y1 / box.h)
    absolute = Box(box.x0 + x0, box.y0 + y0, box.x0 + max(x1, x0 + 1), box.y0 + max(y1, y0 + 1))
    return Glyph(ch, n, i, absolute, code, tuple(round(v, 4) for v in local))


def _cell_crop(image: Image.Image, box: Box, cell: int) -> Image.Image:
    crop = image.crop(tuple(box.as_list()))
    scale = (cell - 4) / max(crop.width, crop.height)
    w, h = max(1, round(crop.width * scale)), max(1, round(crop.height * scale))
    out = Image.new("L", (cell, cell), 0)
    out.paste(crop.resize((w, h), Image.Resampling.BILINEAR), ((cell - w) // 2, (cell - h) // 2))
    return out
