"""Layout stage, the blocks a template stacks: text (title, subtitle, badge, the price tag), the brand's logo,
the selling points as a bulleted list, and the price row (label, price tag, struck-through list price)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PIL import ImageFont

from ecomctl.text.colour import best_text_colour
from ecomctl.text.fonts import load_font
from ecomctl.text.wrap import wrap
from ecomctl.types import Box, Plate, Size, Style, TextLine

# size of each role relative to the title size; the type scale runs title > price > point > subtitle >
# list_price (TYPE_SCALE), and the floors below keep that order too
ROLE_SCALE = {"title": 1.0, "subtitle": 0.44, "price": 0.66, "badge": 0.34, "point": 0.52, "price_label": 0.4,
              "list_price": 0.36}
ROLE_LINES = {"subtitle": 2, "price": 1, "badge": 1}
# floor of each role's size as a multiple of the canvas's smallest legible size: secondary copy stays readable
ROLE_FLOOR = {"title": 1.0, "subtitle": 1.3, "price": 1.6, "badge": 1.1, "point": 1.45, "price_label": 1.2,
              "list_price": 1.15}
TYPE_SCALE = ("title", "price", "point", "subtitle", "list_price")
LOGO_SHARE = 0.062  # the logo's height as a share of the canvas's geometric mean side (sqrt(w × h))
LOGO_MAX_W = 0.32  # … and at most this share of the canvas width


def role_size(role: str, title_px: int, min_px: int) -> int:
    return max(round(min_px * ROLE_FLOOR[role]), round(title_px * ROLE_SCALE[role]))


def _ink_line(role: str, text: str, font: ImageFont.FreeTypeFont, size: int, weight: int, colour: tuple,
              x: int, baseline: int) -> TextLine:
    l, t, r, b = font.getbbox(text, anchor="ls")
    return TextLine(role, text, Box(x + l, baseline + t, x + r, baseline + b), size, weight, colour)


@dataclass
class Placed:
    """What a block put on the canvas: groups of lines (each group is one colour block), plates, the logo."""

    groups: list[list[TextLine]] = field(default_factory=list)
    plates: list[Plate] = field(default_factory=list)
    logo: Box | None = None


@dataclass(frozen=True)
class TextBlock:
    """One role's copy, wrapped; the price and the badge sit on a plate (tag, pill)."""

    role: str
    lines: tuple[str, ...]
    font: ImageFont.FreeTypeFont
    size: int
    weight: int
    pad: tuple[int, int]  # plate padding (x, y); (0, 0) = no plate

    def line_h(self) -> int:
        return round(self.size * 1.22)

    def width(self) -> float:
        return max(self.font.getlength(t) for t in self.lines) + 2 * self.pad[0]

    def height(self) -> int:
        return self.line_h() * len(self.lines) + 2 * self.pad[1]

    def place(self, x_left: int, y: int, align: str, box: Box, style: Style) -> Placed:
        lines, plates = [], []
        w = round(self.width())
        bx = x_left if align == "left" else box.x0 + (box.w - w) // 2
        if self.pad != (0, 0):
            plate_col = style.accent if self.role == "price" else style.text
            plates.append(Plate(self.role, Box(bx, y, bx + w, y + self.height()), plate_col,
                                "tag" if self.role == "price" else "badge"))
            colour = best_text_colour(plate_col, (style.plate, (255, 255, 255), (17, 17, 17)))
        else:
            colour = style.text
        for i, text in enumerate(self.lines):
            tw = self.font.getlength(text)
            x = bx + self.pad[0] if align == "left" or self.pad != (0, 0) else round(box.x0 + (box.w - tw) / 2)
            if self.pad != (0, 0):
                x = round(bx + (w - tw) / 2)
            baseline = y + self.pad[1] + i * self.line_h() + round(self.size * 0.98)
            lines.append(_ink_line(self.role, text, self.font, self.size, self.weight, colour, x, baseline))
        return Placed([lines], plates)


def text_block(role: str, text: str, title_px: int, max_w: int, style: Style, font_path: str | None,
               max_title_lines: int, min_px: int, phrases: bool) -> TextBlock | None:
    size = role_size(role, title_px, min_px)
    weight = style.title_weight if role in ("title", "price", "badge") else style.body_weight
    font = load_font(size, weight, font_path)
    pad = {"price": (round(size * 0.8), round(size * 0.22)),
           "badge": (round(size * 0.6), round(size * 0.25))}.get(role, (0, 0))
    lines = wrap(text, font, max_w - 2 * pad[0], max_title_lines if role == "title" else ROLE_LINES[role], phrases)
    return None if lines is None else TextBlock(role, tuple(lines), font, size, weight, pad)


@dataclass(frozen=True)
class LogoBlock:
    """The brand's logo at its slot: the top of the copy (left in a left-aligned column, else centred)."""

    w: int
    h: int
    role: str = "logo"

    def width(self) -> float:
        return self.w

    def height(self) -> int:
        return self.h + logo_plate_pad(self.h)  # room under it for the plate it may get: the next block clears it

    def place(self, x_left: int, y: int, align: str, box: Box, style: Style) -> Placed:
        x = x_left if align == "left" else box.x0 + (box.w - self.w) // 2
        return Placed(logo=Box(x, y, x + self.w, y + self.h))


def logo_plate_pad(h: int) -> int:
    """How far the logo's plate (text/logo.py: drawn where the logo would not stand out) reaches past it."""
    return max(4, round(h * 0.28))


def logo_size(canvas: Size, logo_wh: tuple[int, int], max_w: int) -> tuple[int, int]:
    """The logo's box: LOGO_SHARE of the canvas's geometric mean side high, aspect kept, at most
    LOGO_MAX_W of the canvas wide and never wider than its column."""
    lw, lh = max(1, logo_wh[0]), max(1, logo_wh[1])
    h = LOGO_SHARE * math.sqrt(canvas.w * canvas.h)
    w = h * lw / lh
    limit = min(LOGO_MAX_W * canvas.w, max_w)
    if w > limit:
        w, h = limit, limit * lh / lw
    return max(1, round(w)), max(1, round(h))


@dataclass(frozen=True)
class PointsBlock:
    """The selling points as a list: one line each, a bullet in the accent colour before it, an even rhythm.
    A point too wide for the column even at the smallest point size wraps onto a second line under its own
    text (`rows`: each point's lines; the bullet marks the first)."""

    points: tuple[str, ...]
    font: ImageFont.FreeTypeFont
    size: int
    weight: int
    role: str = "points"
    rows: tuple[tuple[str, ...], ...] = ()

    def _rows(self) -> tuple[tuple[str, ...], ...]:
        return self.rows or tuple((p,) for p in self.points)

    def indent(self) -> int:
        return round(self.size * 0.95)

    def line_h(self) -> int:
        return round(self.size * 1.22)

    def lead(self) -> int:
        return round(self.size * 0.42)

    def width(self) -> float:
        return self.indent() + max(self.font.getlength(t) for r in self._rows() for t in r)

    def height(self) -> int:
        rows = self._rows()
        return sum(len(r) for r in rows) * self.line_h() + (len(rows) - 1) * self.lead()

    def place(self, x_left: int, y: int, align: str, box: Box, style: Style) -> Placed:
        w = round(self.width())
        bx = x_left if align == "left" else box.x0 + (box.w - w) // 2  # a centred list keeps one left edge
        r = max(2, round(self.size * 0.15))
        lines, plates = [], []
        top = y
        for row in self._rows():
            for j, text in enumerate(row):
                baseline = top + j * self.line_h() + round(self.size * 0.98)
                lines.append(_ink_line("point", text, self.font, self.size, self.weight, style.text,
                                       bx + self.indent(), baseline))
                if j == 0:
                    cy = baseline - round(self.size * 0.36)  # the middle of the x-height / CJK body
                    cx = bx + r
                    plates.append(Plate("bullet", Box(cx - r, cy - r, cx + r + 1, cy + r + 1), style.accent, "dot"))
            top += len(row) * self.line_h() + self.lead()
        return Placed([lines], plates)


def points_block(points: tuple[str, ...], title_px: int, max_w: int, style: Style, font_path: str | None,
                 min_px: int, phrases: bool = True) -> PointsBlock | None:
    """One line per point; where the size is already the point's floor (it cannot shrink further) a point
    too wide for the column wraps onto two lines instead of the whole list being dropped."""
    size = role_size("point", title_px, min_px)
    block = PointsBlock(points, load_font(size, style.body_weight, font_path), size, style.body_weight)
    if block.width() <= max_w:
        return block
    if size > round(min_px * ROLE_FLOOR["point"]):
        return None  # a point is one line while the size can still shrink
    rows = []
    for p in points:
        got = wrap(p, block.font, max_w - block.indent(), 2, phrases)
        if got is None:
            return None
        rows.append(tuple(got))
    return PointsBlock(points, block.font, size, style.body_weight, rows=tuple(rows))


@dataclass(frozen=True)
class PriceBlock:
    """The price row: `price_label` small before the price tag (or above it), the list price smaller and
    struck through after it (or under it). `arrangement`: "row" (label, tag, list on one baseline),
    "label-above" (label, then tag + list), "stacked" (label, tag, list on three lines)."""

    tag: TextBlock
    label: TextBlock | None
    listed: TextBlock | None
    arrangement: str
    role: str = "price"

    def gap(self) -> int:
        return round(self.tag.size * 0.3)

    def _row_w(self, parts: list[TextBlock | None]) -> float:
        ws = [p.width() for p in parts if p is not None]
        return sum(ws) + self.gap() * (len(ws) - 1)

    def width(self) -> float:
        if self.arrangement == "row":
            return self._row_w([self.label, self.tag, self.listed])
        if self.arrangement == "label-above":
            return max(self.label.width() if self.label else 0, self._row_w([self.tag, self.listed]))
        return max(p.width() for p in (self.label, self.tag, self.listed) if p is not None)

    def _small_gap(self) -> int:
        return round(self.tag.size * 0.12)

    def height(self) -> int:
        h = self.tag.height()
        if self.label is not None and self.arrangement != "row":
            h += self.label.line_h() + self._small_gap()
        if self.listed is not None and self.arrangement == "stacked":
            h += self.listed.line_h() + self._small_gap()
        return h

    def place(self, x_left: int, y: int, align: str, box: Box, style: Style) -> Placed:
        w = round(self.width())
        bx = x_left if align == "left" else box.x0 + (box.w - w) // 2
        out = Placed()
        x, ty = bx, y
        if self.label is not None and self.arrangement != "row":
            out.groups += self.label.place(bx, y, "left", box, style).groups
            ty = y + self.label.line_h() + self._small_gap()
        tag_base = ty + self.tag.pad[1] + round(self.tag.size * 0.98)  # the price's baseline
        if self.label is not None and self.arrangement == "row":
            out.groups.append([_ink_line("price_label", self.label.lines[0], self.label.font, self.label.size,
                                         self.label.weight, style.text, x, tag_base)])
            x += round(self.label.width()) + self.gap()
        tag = self.tag.place(x, ty, "left", box, style)
        out.groups += tag.groups
        out.plates += tag.plates
        x += round(self.tag.width()) + self.gap()
        if self.listed is not None:
            if self.arrangement == "stacked":
                base = ty + self.tag.height() + self._small_gap() + round(self.listed.size * 0.98)
                x = bx
            else:
                base = tag_base
            out.groups.append([_ink_line("list_price", self.listed.lines[0], self.listed.font, self.listed.size,
                                         self.listed.weight, style.text, x, base)])
        return out


def price_block(copy: dict[str, str], title_px: int, max_w: int, style: Style, font_path: str | None,
                min_px: int, phrases: bool) -> PriceBlock | TextBlock | None:
    """The price tag alone (as before price labels existed), or the price row in the first arrangement that
    fits `max_w`."""
    tag = text_block("price", copy["price"], title_px, max_w, style, font_path, 1, min_px, phrases)
    if tag is None or ("price_label" not in copy and "list_price" not in copy):
        return tag
    parts = {}
    for role in ("price_label", "list_price"):
        if role in copy:
            size = role_size(role, title_px, min_px)
            weight = style.title_weight if role == "price_label" else style.body_weight
            font = load_font(size, weight, font_path)
            parts[role] = TextBlock(role, (copy[role],), font, size, weight, (0, 0))
    for arrangement in ("row", "label-above", "stacked"):
        block = PriceBlock(tag, parts.get("price_label"), parts.get("list_price"), arrangement)
        if block.width() <= max_w:
            return block
    return None


Block = TextBlock | LogoBlock | PointsBlock | PriceBlock
