"""Layout stage: a template places the product and fits the copy (size search, wrapping) beside it."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageFont

from ecomctl.errors import LayoutError
from ecomctl.text.colour import best_text_colour
from ecomctl.text.fonts import load_font
from ecomctl.text.wrap import wrap
from ecomctl.types import Box, Layout, Plate, Size, SkuRow, Style, TextLine

Frac = tuple[float, float, float, float]


@dataclass(frozen=True)
class Region:
    box: Frac  # fractions of the safe area
    roles: tuple[str, ...]
    align: str = "left"  # left | center
    valign: str = "center"  # top | center | bottom


@dataclass(frozen=True)
class Template:
    name: str
    subject: Frac
    regions: tuple[Region, ...]
    max_title_lines: int = 3


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("split-left", subject=(0.47, 0.02, 1.0, 0.98),
             regions=(Region((0.0, 0.04, 0.44, 0.96), ("badge", "title", "subtitle", "price")),)),
    Template("split-right", subject=(0.0, 0.02, 0.53, 0.98),
             regions=(Region((0.56, 0.04, 1.0, 0.96), ("badge", "title", "subtitle", "price")),)),
    Template("hero-top", subject=(0.14, 0.36, 0.86, 1.0), max_title_lines=2,
             regions=(Region((0.0, 0.0, 1.0, 0.31), ("badge", "title", "subtitle", "price"), "center", "top"),)),
    Template("story", subject=(0.03, 0.26, 0.97, 0.86), max_title_lines=2,
             regions=(Region((0.0, 0.0, 1.0, 0.24), ("badge", "title", "subtitle"), "center", "top"),
                      Region((0.0, 0.88, 1.0, 1.0), ("price",), "center", "center"))),
)}
# templates that suit a canvas shape; variants cycle through them
BY_SHAPE = {"wide": ("split-left", "split-right"), "square": ("split-left", "hero-top", "split-right"),
            "tall": ("story", "hero-top")}
# size of each role relative to the title size, and its weight key
ROLE_SCALE = {"title": 1.0, "subtitle": 0.44, "price": 0.66, "badge": 0.34}
ROLE_LINES = {"subtitle": 2, "price": 1, "badge": 1}
# floor of each role's size as a multiple of the canvas's smallest legible size: secondary copy stays readable
ROLE_FLOOR = {"title": 1.0, "subtitle": 1.3, "price": 1.6, "badge": 1.1}


def shape_of(size: Size) -> str:
    r = size.w / size.h
    return "wide" if r > 1.3 else "tall" if r < 0.8 else "square"


def template_for(size: Size, variant: int, requested: str | None) -> Template:
    if requested:
        return TEMPLATES[requested]
    names = BY_SHAPE[shape_of(size)]
    return TEMPLATES[names[(variant - 1) % len(names)]]


def _abs(frac: Frac, safe: Box) -> Box:
    x0, y0, x1, y1 = frac
    return Box(round(safe.x0 + x0 * safe.w), round(safe.y0 + y0 * safe.h),
               round(safe.x0 + x1 * safe.w), round(safe.y0 + y1 * safe.h))


def fit_subject_box(region: Box, subject_wh: tuple[int, int], fill: float = 0.9) -> Box:
    """Largest box of the cutout's aspect inside `region` (contain), centred, a little low."""
    sw, sh = subject_wh
    scale = min(region.w * fill / sw, region.h * fill / sh)
    w, h = max(1, round(sw * scale)), max(1, round(sh * scale))
    x0 = region.x0 + (region.w - w) // 2
    y0 = region.y0 + round((region.h - h) * 0.6)
    return Box(x0, y0, x0 + w, y0 + h)


@dataclass(frozen=True)
class _Block:
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


def _blocks(copy: dict[str, str], roles: tuple[str, ...], title_px: int, max_w: int, style: Style,
            font_path: str | None, max_title_lines: int, min_px: int, phrases: bool) -> list[_Block] | None:
    out = []
    for role in roles:
        if role not in copy:
            continue
        size = max(round(min_px * ROLE_FLOOR[role]), round(title_px * ROLE_SCALE[role]))
        weight = style.title_weight if role in ("title", "price", "badge") else style.body_weight
        font = load_font(size, weight, font_path)
        pad = {"price": (round(size * 0.8), round(size * 0.22)),
               "badge": (round(size * 0.6), round(size * 0.25))}.get(role, (0, 0))
        lines = wrap(copy[role], font, max_w - 2 * pad[0],
                     max_title_lines if role == "title" else ROLE_LINES[role], phrases)
        if lines is None:
            return None
        out.append(_Block(role, tuple(lines), font, size, weight, pad))
    return out


def _stack_h(blocks: list[_Block], gap: int) -> int:
    return sum(b.height() for b in blocks) + gap * max(0, len(blocks) - 1)


def _fit(copy: dict[str, str], tpl: Template, safe: Box, style: Style, font_path: str | None,
         min_px: int) -> tuple[int, list[list[_Block]]]:
    """Largest title size that fits; breaking only at spaces is preferred unless it costs > 35% size."""
    anywhere = _fit_mode(copy, tpl, safe, style, font_path, min_px, False)
    at_spaces = _fit_mode(copy, tpl, safe, style, font_path, min_px, True)
    if at_spaces and (not anywhere or at_spaces[0] >= 0.65 * anywhere[0]):
        return at_spaces
    if anywhere is None:
        raise LayoutError(f"copy does not fit template {tpl.name!r} at {safe.w}x{safe.h} px "
                          f"even at {min_px} px; shorten the title or choose another template")
    return anywhere


def _fit_mode(copy: dict[str, str], tpl: Template, safe: Box, style: Style, font_path: str | None,
              min_px: int, phrases: bool) -> tuple[int, list[list[_Block]]] | None:
    """Largest title size at which every region's copy fits; binary search over integer px."""
    lo, hi = min_px, max(min_px, round(min(safe.w, safe.h) * 0.16))
    best: tuple[int, list[list[_Block]]] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        fitted = []
        for reg in tpl.regions:
            box = _abs(reg.box, safe)
            blocks = _blocks(copy, reg.roles, mid, box.w, style, font_path, tpl.max_title_lines, min_px,
                             phrases)
            if blocks is None or _stack_h(blocks, round(mid * 0.32)) > box.h:
                break
            fitted.append(blocks)
        else:
            best, lo = (mid, fitted), mid + 1
            continue
        hi = mid - 1
    return best


def _place_block(b: _Block, x_left: int, y: int, align: str, box: Box, style: Style
                 ) -> tuple[list[TextLine], list[Plate]]:
    lines, plates = [], []
    w = round(b.width())
    bx = x_left if align == "left" else box.x0 + (box.w - w) // 2
    if b.pad != (0, 0):
        plate_col = style.accent if b.role == "price" else style.text
        plates.append(Plate(b.role, Box(bx, y, bx + w, y + b.height()), plate_col,
                            "tag" if b.role == "price" else "badge"))
        colour = best_text_colour(plate_col, (style.plate, (255, 255, 255), (17, 17, 17)))
    else:
        colour = style.text
    for i, text in enumerate(b.lines):
        tw = b.font.getlength(text)
        x = bx + b.pad[0] if align == "left" or b.pad != (0, 0) else round(box.x0 + (box.w - tw) / 2)
        if b.pad != (0, 0):
            x = round(bx + (w - tw) / 2)
        baseline = y + b.pad[1] + i * b.line_h() + round(b.size * 0.98)
        l, t, r, btm = b.font.getbbox(text, anchor="ls")
        lines.append(TextLine(b.role, text, Box(x + l, baseline + t, x + r, baseline + btm), b.size,
                              b.weight, colour))
    return lines, plates


def plan_layout(row: SkuRow, tpl: Template, size: Size, subject_wh: tuple[int, int], style: Style,
                font_path: str | None = None, margin: float = 0.06, min_px: int = 18) -> Layout:
    """Place the product and every copy line on the canvas; lines never overlap the product box."""
    m = round(min(size.w, size.h) * margin)
    safe = Box(m, m, size.w - m, size.h - m)
    subject_box = fit_subject_box(_abs(tpl.subject, safe), subject_wh)
    min_px = max(min_px, round(min(size.w, size.h) * 0.022))  # smallest legible size on this canvas
    title_px, fitted = _fit(row.copy_lines(), tpl, safe, style, font_path, min_px)
    lines: list[TextLine] = []
    plates: list[Plate] = []
    for block_idx, (reg, blocks) in enumerate(zip(tpl.regions, fitted)):
        box = _abs(reg.box, safe)
        gap = round(title_px * 0.32)
        total = _stack_h(blocks, gap)
        y = {"top": box.y0, "bottom": box.y1 - total}.get(reg.valign, box.y0 + (box.h - total) // 2)
        for j, b in enumerate(blocks):
            ls, ps = _place_block(b, box.x0, y, reg.align, box, style)
            lines += [TextLine(t.role, t.text, t.box, t.font_size, t.weight, t.color, block_idx * 10 + j)
                      for t in ls]
            plates += ps
            y += b.height() + gap
    layout = Layout(size, tpl.name, subject_box, tuple(lines), tuple(plates), font_path or "")
    for t in layout.lines:
        if t.box.intersection(subject_box) > 0:
            raise LayoutError(f"template {tpl.name!r}: {t.role} line overlaps the product")
    return layout


def plan_for_variant(row: SkuRow, variant: int, subject_wh: tuple[int, int], style: Style,
                     font_path: str | None = None, margin: float = 0.06, min_px: int = 18) -> Layout:
    """The variant's template, or — when the copy does not fit it and the row did not pin one — the next
    template that suits the canvas shape (small canvases cannot hold every template's copy block)."""
    first = template_for(row.size, variant, row.template)
    if row.template:
        return plan_layout(row, first, row.size, subject_wh, style, font_path, margin, min_px)
    names = BY_SHAPE[shape_of(row.size)]
    order = [first.name] + [n for n in names if n != first.name]
    order += [n for n in TEMPLATES if n not in order]
    error: LayoutError | None = None
    for name in order:
        try:
            return plan_layout(row, TEMPLATES[name], row.size, subject_wh, style, font_path, margin, min_px)
        except LayoutError as e:
            error = error or e
    raise error  # type: ignore[misc]
