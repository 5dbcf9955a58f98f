"""Typeset stage: draws plates and copy on the finished scene; text colour/plates guarantee WCAG contrast."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ecomctl.text.colour import best_text_colour, luminance
from ecomctl.text.fonts import load_font
from ecomctl.types import RGB, Box, Layout, Plate, Style, TextLine

_BLACKISH: RGB = (17, 17, 17)
_WHITE: RGB = (255, 255, 255)


def worst_contrast(img: Image.Image, box: Box, colour: RGB) -> float:
    """5th-percentile contrast of `colour` against the pixels under `box` (busy backgrounds count)."""
    region = np.asarray(img.convert("RGB").crop(tuple(box.clip(_size(img)).as_list())), dtype=np.float64)
    if region.size == 0:
        return 21.0
    lum = luminance(region.reshape(-1, 3))
    lc = float(luminance(colour))
    ratio = (np.maximum(lum, lc) + 0.05) / (np.minimum(lum, lc) + 0.05)
    return float(np.percentile(ratio, 5))


def _size(img: Image.Image):
    from ecomctl.types import Size

    return Size(*img.size)


def _block_box(lines: list[TextLine], pad: int) -> Box:
    return Box(min(t.box.x0 for t in lines) - pad, min(t.box.y0 for t in lines) - pad,
               max(t.box.x1 for t in lines) + pad, max(t.box.y1 for t in lines) + pad)


def choose_colours(scene: Image.Image, layout: Layout, style: Style, min_contrast: float) -> Layout:
    """Fix each free-standing block's colour against the real scene; add a backing plate where needed."""
    plated = {p.role for p in layout.plates}
    lines = list(layout.lines)
    plates = list(layout.plates)
    for block in sorted({t.block for t in lines}):
        idx = [i for i, t in enumerate(lines) if t.block == block and t.role not in plated]
        if not idx:
            continue
        group = [lines[i] for i in idx]
        area = _block_box(group, 4)
        options = (style.text, _BLACKISH, _WHITE)
        colour = max(options, key=lambda c: worst_contrast(scene, area, c))
        if worst_contrast(scene, area, colour) < min_contrast:
            pad = max(8, group[0].font_size // 3)
            plates.append(Plate(group[0].role, _block_box(group, pad), style.plate, "band"))
            colour = best_text_colour(style.plate, options)
        for i in idx:
            t = lines[i]
            lines[i] = TextLine(t.role, t.text, t.box, t.font_size, t.weight, colour, t.block)
    return Layout(layout.canvas, layout.template, layout.subject_box, tuple(lines), tuple(plates), layout.font)


def _draw_plate(img: Image.Image, p: Plate) -> None:
    """Rounded plate with a soft shadow; tags get a punched hole, badges are pills."""
    x0, y0, x1, y1 = p.box.as_list()
    radius = (y1 - y0) // 2 if p.kind in ("badge", "pill") else max(6, (y1 - y0) // 5)
    shadow = Image.new("L", img.size, 0)
    ImageDraw.Draw(shadow).rounded_rectangle((x0 + 2, y0 + 6, x1 + 2, y1 + 6), radius, fill=70)
    shadow = shadow.filter(ImageFilter.GaussianBlur(8))
    img.paste(Image.new("RGB", img.size, (0, 0, 0)), (0, 0), shadow)
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((x0, y0, x1, y1), radius, fill=p.color)
    if p.kind == "tag":  # a small punched hole: reads as a price tag, away from the text
        r = max(3, (y1 - y0) // 14)  # the price text starts 0.8 × its size in: the hole sits well left of it
        cx, cy = x0 + max(2 * r, (y1 - y0) // 5), (y0 + y1) // 2
        lum = float(luminance(p.color))
        hole = (255, 255, 255) if lum < 0.5 else (60, 60, 60)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=hole)


def typeset(scene: Image.Image, layout: Layout, style: Style, min_contrast: float = 4.5,
            product: np.ndarray | None = None) -> tuple[Image.Image, Layout]:
    """Draw the copy on `scene`; returns the poster and the layout with the colours/plates actually used.

    `product` (HxW alpha of the pasted product) marks pixels the typesetter must leave exactly as they are:
    a plate's soft shadow may reach the product, and the product is never altered after paste-back.
    """
    layout = choose_colours(scene, layout, style, min_contrast)
    img = scene.convert("RGB").copy()
    for plate in layout.plates:
        _draw_plate(img, plate)
    draw = ImageDraw.Draw(img)
    path = layout.font or None
    for t in layout.lines:
        font = load_font(t.font_size, t.weight, path)
        left, top, _, _ = font.getbbox(t.text, anchor="ls")
        draw.text((t.box.x0 - left, t.box.y0 - top), t.text, font=font, fill=t.color, anchor="ls")
    if product is not None:
        keep = np.asarray(product) > 0
        out = np.asarray(img).copy()
        out[keep] = np.asarray(scene.convert("RGB"))[keep]
        img = Image.fromarray(out, "RGB")
    return img, layout


