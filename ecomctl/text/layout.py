"""Layout stage: a template places the product and fits the copy (size search, wrapping) beside it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ecomctl.errors import LayoutError
from ecomctl.text.blocks import (
    ROLE_FLOOR,
    TYPE_SCALE,
    Block,
    LogoBlock,
    logo_size,
    points_block,
    price_block,
    text_block,
)
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
    # the composition for a row with selling points, where it differs (room for the list), and on a tall
    # canvas where that differs again; `tall`: the plain composition on a tall canvas, where it differs
    # (each keeps the template's name: the scene draws the template's stage from the layout's boxes)
    rich: Template | None = None
    rich_tall: Template | None = None
    tall: Template | None = None
    wide: Template | None = None  # the composition on a wide canvas, with or without brand fields

    def for_row(self, row: SkuRow) -> Template:
        shape = shape_of(row.size)
        if shape == "wide" and self.wide is not None:
            return self.wide
        tall = shape == "tall"
        if row.points:  # a logo alone takes the top of the copy in any composition
            rich = self.rich_tall if tall and self.rich_tall is not None else self.rich
            if rich is not None:
                return rich
        return self.tall if tall and self.tall is not None else self


_COPY = ("logo", "badge", "title", "subtitle", "points", "price")  # top to bottom; absent roles take no room
TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("split-left", subject=(0.47, 0.02, 1.0, 0.98),
             regions=(Region((0.0, 0.04, 0.44, 0.96), _COPY),)),
    Template("split-right", subject=(0.0, 0.02, 0.53, 0.98),
             regions=(Region((0.56, 0.04, 1.0, 0.96), _COPY),)),
    Template("hero-top", subject=(0.14, 0.36, 0.86, 1.0), max_title_lines=2,
             regions=(Region((0.0, 0.0, 1.0, 0.31), ("logo", "badge", "title", "subtitle", "price"), "center",
                             "top"),),
             # with points: the title band on top, the product low right, points and price beside it
             rich=Template("hero-top", subject=(0.39, 0.31, 1.0, 1.0), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.28), ("logo", "title", "subtitle"), "center", "top"),
                                    Region((0.0, 0.34, 0.37, 1.0), ("badge", "points", "price"), "left", "center"))),
             # … on a tall canvas without points: the product takes the full width (0.14-0.86 left a wide
             # product a third of the canvas wide under the headline, over a bare lower half)
             tall=Template("hero-top", subject=(0.04, 0.36, 0.96, 1.0), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.31), ("logo", "badge", "title", "subtitle", "price"),
                                           "center", "top"),)),
             # … on a tall canvas a side column starves the product: the product high, all the copy under it
             rich_tall=Template("hero-top", subject=(0.04, 0.085, 0.96, 0.56), max_title_lines=2,
                                regions=(Region((0.0, 0.0, 1.0, 0.07), ("logo",), "center", "top"),
                                         Region((0.0, 0.59, 1.0, 1.0), ("badge", "title", "subtitle", "points",
                                                                         "price"), "center", "center")))),
    Template("story", subject=(0.03, 0.26, 0.97, 0.86), max_title_lines=2,
             regions=(Region((0.0, 0.0, 1.0, 0.24), ("logo", "badge", "title", "subtitle"), "center", "top"),
                      Region((0.0, 0.88, 1.0, 1.0), ("price",), "center", "center")),
             # with points: the product a little smaller, the points and the price row under it
             rich=Template("story", subject=(0.05, 0.245, 0.95, 0.72), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.23), ("logo", "badge", "title", "subtitle"), "center",
                                           "top"),
                                    Region((0.0, 0.745, 1.0, 1.0), ("points", "price"), "center", "center")))),
    # the product centred on a podium (drawn by the scene), the headline above it, the price below
    Template("podium", subject=(0.14, 0.25, 0.86, 0.83), max_title_lines=2,
             regions=(Region((0.0, 0.0, 1.0, 0.22), ("logo", "badge", "title", "subtitle"), "center", "top"),
                      Region((0.0, 0.87, 1.0, 1.0), ("points", "price"), "center", "center")),
             # with selling points: a smaller product; under the podium the points list and the badge over the
             # price row side by side (on a tall canvas, the one over the other)
             rich=Template("podium", subject=(0.18, 0.27, 0.82, 0.72), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.25), ("logo", "title", "subtitle"), "center", "top"),
                                    Region((0.04, 0.76, 0.54, 1.0), ("points",), "left", "center"),
                                    Region((0.58, 0.76, 1.0, 1.0), ("badge", "price"), "center", "center"))),
             # on a tall canvas the product takes the full width (the podium under it still fits the canvas)
             tall=Template("podium", subject=(0.05, 0.25, 0.95, 0.83), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.22), ("logo", "badge", "title", "subtitle"), "center",
                                           "top"),
                                    Region((0.0, 0.87, 1.0, 1.0), ("points", "price"), "center", "center"))),
             rich_tall=Template("podium", subject=(0.05, 0.25, 0.95, 0.70), max_title_lines=2,
                                regions=(Region((0.0, 0.0, 1.0, 0.22), ("logo", "badge", "title", "subtitle"),
                                                "center", "top"),
                                         Region((0.0, 0.75, 1.0, 1.0), ("points", "price"), "center", "center"))),
             # on a banner: the product on its podium on the right, the copy in a column beside it
             wide=Template("podium", subject=(0.46, 0.03, 1.0, 0.93), regions=(Region((0.0, 0.04, 0.42, 0.96), _COPY),))),
    # a sale frame round the canvas (scene): the headline across the top, the product large at the bottom
    # right, the details and the price in the column beside it (on a tall canvas: below the product)
    Template("framed", subject=(0.36, 0.24, 1.0, 1.0), max_title_lines=2,
             regions=(Region((0.0, 0.0, 1.0, 0.21), ("logo", "badge", "title"), "center", "top"),
                      Region((0.0, 0.28, 0.34, 1.0), ("subtitle", "points", "price"), "left", "center")),
             # with a logo or points: the logo heads the column, which widens a little
             rich=Template("framed", subject=(0.40, 0.22, 1.0, 1.0), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.19), ("badge", "title"), "center", "top"),
                                    Region((0.0, 0.24, 0.38, 1.0), ("logo", "subtitle", "points", "price"), "left",
                                           "center"))),
             tall=Template("framed", subject=(0.04, 0.17, 0.96, 0.80), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.15), ("logo", "badge", "title"), "center", "top"),
                                    Region((0.0, 0.84, 1.0, 1.0), ("subtitle", "points", "price"), "center",
                                           "center"))),
             # on a banner: a deeper headline band (the canvas is wide, not tall: a 0.19 band held a 46 px title
             # on 1200x628), the product large at the bottom right, the logo heading the column
             wide=Template("framed", subject=(0.42, 0.27, 1.0, 1.0), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 1.0, 0.25), ("badge", "title"), "center", "top"),
                                    Region((0.0, 0.29, 0.39, 1.0), ("logo", "subtitle", "points", "price"), "left",
                                           "center"))),
             rich_tall=Template("framed", subject=(0.04, 0.22, 0.96, 0.68), max_title_lines=2,
                                regions=(Region((0.0, 0.0, 1.0, 0.20), ("logo", "badge", "title"), "center", "top"),
                                         Region((0.0, 0.71, 1.0, 1.0), ("subtitle", "points", "price"), "center",
                                                "center")))),
    # the copy on a panel with a slanted edge (scene) on the left, the product on the right; on a tall canvas
    # the panel runs across the top
    Template("diagonal", subject=(0.50, 0.02, 1.0, 0.98),
             regions=(Region((0.0, 0.06, 0.40, 0.94), ("logo", "badge", "title", "subtitle", "points", "price")),),
             tall=Template("diagonal", subject=(0.04, 0.36, 0.96, 1.0), max_title_lines=2,
                           regions=(Region((0.0, 0.0, 0.92, 0.29), ("logo", "badge", "title", "subtitle", "price"),
                                           "left", "top"),)),
             rich=Template("diagonal", subject=(0.50, 0.02, 1.0, 0.98),
                           regions=(Region((0.0, 0.06, 0.40, 0.94), ("logo", "badge", "title", "subtitle", "points",
                                                                     "price")),)),
             rich_tall=Template("diagonal", subject=(0.04, 0.50, 0.96, 1.0), max_title_lines=2,
                                regions=(Region((0.0, 0.0, 0.92, 0.44), ("logo", "badge", "title", "subtitle",
                                                                         "points", "price"), "left", "top"),))),
)}
# templates that suit a canvas shape; variants cycle through them
BY_SHAPE = {"wide": ("split-left", "diagonal", "split-right", "framed"),
            "square": ("split-left", "podium", "hero-top", "framed", "split-right", "diagonal"),
            "tall": ("story", "diagonal", "podium", "framed", "hero-top")}
# what a canvas that cannot hold all the copy gives up first (title, price and logo are never dropped)
DROP_ORDER = ("points[2:]", "subtitle", "points", "badge", "price_label", "list_price")


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
class Content:
    """What a layout places: the copy by key (SkuRow.copy_lines, less what was dropped) and the logo's size."""

    copy: dict[str, str]
    logo_wh: tuple[int, int] | None = None


def _blocks(content: Content, roles: tuple[str, ...], title_px: int, max_w: int, style: Style,
            font_path: str | None, max_title_lines: int, min_px: int, phrases: bool, canvas: Size
            ) -> list[Block] | None:
    copy, out = content.copy, []
    for role in roles:
        block: Block | None
        if role == "logo":
            if content.logo_wh is None:
                continue
            block = LogoBlock(*logo_size(canvas, content.logo_wh, max_w))
        elif role == "points":
            points = tuple(v for k, v in copy.items() if k.startswith("point"))
            if not points:
                continue
            block = points_block(points, title_px, max_w, style, font_path, min_px, phrases)
        elif role not in copy:
            continue
        elif role == "price":
            block = price_block(copy, title_px, max_w, style, font_path, min_px, phrases)
        else:
            block = text_block(role, copy[role], title_px, max_w, style, font_path, max_title_lines, min_px, phrases)
        if block is None:
            return None
        out.append(block)
    return out


def _stack_h(blocks: list[Block], gap: int) -> int:
    return sum(b.height() for b in blocks) + gap * max(0, len(blocks) - 1)


def _fit(content: Content, tpl: Template, safe: Box, style: Style, font_path: str | None, min_px: int,
         canvas: Size, lo: int) -> tuple[int, list[list[Block]]]:
    """Largest title size (>= `lo`) that fits; breaking only at spaces is preferred unless it costs > 35% size."""
    anywhere = _fit_mode(content, tpl, safe, style, font_path, min_px, False, canvas, lo)
    at_spaces = _fit_mode(content, tpl, safe, style, font_path, min_px, True, canvas, lo)
    if at_spaces and (not anywhere or at_spaces[0] >= 0.65 * anywhere[0]):
        return at_spaces
    if anywhere is None:
        raise LayoutError(f"copy does not fit template {tpl.name!r} at {safe.w}x{safe.h} px "
                          f"even at {lo} px; shorten the title or choose another template")
    return anywhere


def _fit_mode(content: Content, tpl: Template, safe: Box, style: Style, font_path: str | None, min_px: int,
              phrases: bool, canvas: Size, lo: int) -> tuple[int, list[list[Block]]] | None:
    """Largest title size at which every region's copy fits; binary search over integer px."""
    hi = max(lo, round(min(safe.w, safe.h) * 0.16))
    best: tuple[int, list[list[Block]]] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        fitted = []
        for reg in tpl.regions:
            box = _abs(reg.box, safe)
            blocks = _blocks(content, reg.roles, mid, box.w, style, font_path, tpl.max_title_lines, min_px,
                             phrases, canvas)
            if blocks is None or _stack_h(blocks, round(mid * 0.32)) > box.h:
                break
            fitted.append(blocks)
        else:
            best, lo = (mid, fitted), mid + 1
            continue
        hi = mid - 1
    return best


Loan = tuple[int, bool, float]  # (copy region's index, above the product?, share of the safe height)


def give_slack(tpl: Template, safe: Box, subject_box: Box) -> tuple[Template, list[Loan]]:
    """On a tall canvas a product wider than its slot's shape (a jar, two phone cases) fills the slot's width and
    leaves a band of it empty above and below; that height is lent to the copy regions next to the slot (the
    one right above takes the share above, the one right below the share below; all of it to one side when
    the copy is only on one side), so the type can grow instead of the empty band. The product keeps its size."""
    x0, y0, x1, y1 = tpl.subject
    need = (subject_box.h / 0.9 + 2) / safe.h  # the slot height at which the product keeps its size
    slack = (y1 - y0) - need
    if slack < 0.02:
        return tpl, []
    cols = [i for i, r in enumerate(tpl.regions) if r.box[0] < x1 and r.box[2] > x0]  # over or under it
    above = max((i for i in cols if tpl.regions[i].box[3] <= y0 + 1e-6), key=lambda i: tpl.regions[i].box[3],
                default=None)
    below = min((i for i in cols if tpl.regions[i].box[1] >= y1 - 1e-6), key=lambda i: tpl.regions[i].box[1],
                default=None)
    if above is None and below is None:
        return tpl, []
    up = slack if below is None else 0.0 if above is None else slack / 2
    loans = [(i, side, g) for i, side, g in ((above, True, up), (below, False, slack - up)) if i is not None and g]
    return _lend(tpl, loans), loans


def _lend(tpl: Template, loans: list[Loan]) -> Template:
    """Move the edge each region shares with the product's slot into the slot by the loan (back when < 0)."""
    x0, y0, x1, y1 = tpl.subject
    regions = list(tpl.regions)
    for i, above, g in loans:
        b = regions[i].box
        if above:
            regions[i], y0 = replace(regions[i], box=(b[0], b[1], b[2], b[3] + g)), y0 + g
        else:
            regions[i], y1 = replace(regions[i], box=(b[0], b[1] - g, b[2], b[3])), y1 - g
    return replace(tpl, subject=(x0, y0, x1, y1), regions=tuple(regions))


def take_back(tpl: Template, loans: list[Loan], fitted: list[list[Block]], safe: Box, title_px: int) -> Template:
    """Return to the product's slot the part of each loan the fitted copy does not fill (type at its largest
    size leaves room), so the product sits between the copy, not under an empty band."""
    gap = round(title_px * 0.32)
    back = []
    for i, above, g in loans:
        spare = (_abs(tpl.regions[i].box, safe).h - _stack_h(fitted[i], gap) - 2) / safe.h
        if spare > 0:
            back.append((i, above, -min(g, spare)))
    return _lend(tpl, back)


def drop_steps(copy: dict[str, str]) -> list[tuple[str, tuple[str, ...]]]:
    """The DROP_ORDER steps that apply to this copy: (name recorded in Layout.dropped, copy keys it removes)."""
    points = [k for k in copy if k.startswith("point")]
    steps: list[tuple[str, tuple[str, ...]]] = []
    for name in DROP_ORDER:
        if name == "points[2:]" and len(points) > 2:
            steps.append((name, tuple(points[2:])))
        elif name == "points" and points:
            steps.append(("points[:2]" if len(points) > 2 else "points", tuple(points[:2])))
        elif name in copy:
            steps.append((name, (name,)))
    return steps


def _scale_floor(copy: dict[str, str], min_px: int) -> int:
    """The smallest title size that keeps the type scale (title above every other role present)."""
    roles = {"point" if k.startswith("point") else k for k in copy}
    floors = [round(min_px * ROLE_FLOOR[r]) for r in TYPE_SCALE[1:] if r in roles]
    return max(floors, default=min_px - 1) + 1


def plan_layout(row: SkuRow, tpl: Template, size: Size, subject_wh: tuple[int, int], style: Style,
                font_path: str | None = None, margin: float = 0.06, min_px: int = 18,
                logo_wh: tuple[int, int] | None = None, drops: bool = False) -> Layout:
    """Place the product, the logo (`logo_wh`: its trimmed size) and every copy line on the canvas; nothing
    overlaps the product box. A row with brand fields keeps the type scale (TYPE_SCALE). With `drops`, copy
    that does not fit is given up in DROP_ORDER and named in Layout.dropped; without, LayoutError."""
    tpl = tpl.for_row(row)
    m = round(min(size.w, size.h) * margin)
    safe = Box(m, m, size.w - m, size.h - m)
    subject_box = fit_subject_box(_abs(tpl.subject, safe), subject_wh)
    loans: list[Loan] = []
    if shape_of(size) == "tall":
        tpl, loans = give_slack(tpl, safe, subject_box)
    min_px = max(min_px, round(min(size.w, size.h) * 0.022))  # smallest legible size on this canvas
    copy = row.copy_lines()
    brand = logo_wh is not None or any(k in copy for k in ("point1", "list_price", "price_label"))
    steps = drop_steps(copy) if drops else []
    dropped: list[str] = []
    while True:
        lo = _scale_floor(copy, min_px) if brand else min_px
        try:
            title_px, fitted = _fit(Content(copy, logo_wh), tpl, safe, style, font_path, min_px, size, lo)
            break
        except LayoutError:
            if steps:
                name, keys = steps.pop(0)
                copy = {k: v for k, v in copy.items() if k not in keys}
                dropped.append(name)
            elif drops and brand:  # nothing left to drop: legibility floors before the type scale
                brand = False
            else:
                raise
    if loans:  # the copy took what it could use of the product's empty band; the rest goes back to it
        tpl = take_back(tpl, loans, fitted, safe, title_px)
        subject_box = fit_subject_box(_abs(tpl.subject, safe), subject_wh)
    lines, plates, logo = _place(fitted, tpl, safe, style, title_px)
    layout = Layout(size, tpl.name, subject_box, tuple(lines), tuple(plates), font_path or "", logo, tuple(dropped))
    for t in layout.lines:
        if t.box.intersection(subject_box) > 0:
            raise LayoutError(f"template {tpl.name!r}: {t.role} line overlaps the product")
    for box, what in [(p.box, p.role) for p in layout.plates] + ([(logo, "logo")] if logo else []):
        if box.intersection(subject_box) > 0:
            raise LayoutError(f"template {tpl.name!r}: the {what} overlaps the product")
    return layout


def _place(fitted: list[list[Block]], tpl: Template, safe: Box, style: Style, title_px: int
           ) -> tuple[list[TextLine], list[Plate], Box | None]:
    """Stack each region's blocks (the logo pinned to the region's top); each group of lines is one block
    number (the unit the typesetter picks a colour for)."""
    lines: list[TextLine] = []
    plates: list[Plate] = []
    logo: Box | None = None
    gap = round(title_px * 0.32)
    for region_idx, (reg, blocks) in enumerate(zip(tpl.regions, fitted)):
        box = _abs(reg.box, safe)
        if blocks and blocks[0].role == "logo" and reg.valign != "top":
            logo = blocks[0].place(box.x0, box.y0, reg.align, box, style).logo
            box = Box(box.x0, box.y0 + blocks[0].height() + gap, box.x1, box.y1)
            blocks = blocks[1:]
        total = _stack_h(blocks, gap)
        y = {"top": box.y0, "bottom": box.y1 - total}.get(reg.valign, box.y0 + (box.h - total) // 2)
        k = 0
        for b in blocks:
            placed = b.place(box.x0, y, reg.align, box, style)
            for group in placed.groups:
                lines += [replace(t, block=region_idx * 10 + k) for t in group]
                k += 1
            plates += placed.plates
            logo = placed.logo or logo
            y += b.height() + gap
    return lines, plates, logo


def plan_for_variant(row: SkuRow, variant: int, subject_wh: tuple[int, int], style: Style,
                     font_path: str | None = None, margin: float = 0.06, min_px: int = 18,
                     logo_wh: tuple[int, int] | None = None) -> Layout:
    """The variant's template, or — when the copy does not fit it and the row did not pin one — the next
    template that suits the canvas shape (small canvases cannot hold every template's copy block). When no
    template holds all of the copy, the one that gives up the least (Layout.dropped, DROP_ORDER)."""
    first = template_for(row.size, variant, row.template)
    order = [first.name]
    if not row.template:  # the shape's templates from the variant's own on: variants stay different
        names = BY_SHAPE[shape_of(row.size)]
        order += [names[(variant - 1 + k) % len(names)] for k in range(1, len(names))]
        order += [n for n in TEMPLATES if n not in order]
    args = (row.size, subject_wh, style, font_path, margin, min_px, logo_wh)
    error: LayoutError | None = None
    for name in order:
        try:
            return plan_layout(row, TEMPLATES[name], *args)
        except LayoutError as e:
            error = error or e
    best: Layout | None = None
    for name in order:
        try:
            layout = plan_layout(row, TEMPLATES[name], *args, drops=True)
        except LayoutError:
            continue
        if best is None or len(layout.dropped) < len(best.dropped):
            best = layout
    if best is None:
        raise error  # type: ignore[misc]
    return best
