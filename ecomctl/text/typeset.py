"""Typeset stage: draws plates and copy on the finished scene; text colour/plates guarantee WCAG contrast."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ecomctl.text.colour import best_text_colour, contrast_ratios, luminance, luminance_u8
from ecomctl.text.fonts import load_font
from ecomctl.types import RGB, Box, Layout, Plate, Style, TextLine

STRIKE = 0.06  # the strike-through's thickness, a share of the font size
_BLACKISH: RGB = (17, 17, 17)
_WHITE: RGB = (255, 255, 255)


def worst_contrast(img: Image.Image, box: Box, colour: RGB) -> float:
    """5th-percentile contrast of `colour` against the pixels under `box` (busy backgrounds count)."""
    return _worst_contrast(_region_luminance(np.asarray(img.convert("RGB")), box), colour)


def _region_luminance(rgb: np.ndarray, box: Box) -> np.ndarray:
    """Relative luminance of the pixels under `box` (text.colour: the formula QA measures with)."""
    b = box.clip(_size_of(rgb))
    region = rgb[b.y0:b.y1, b.x0:b.x1].reshape(-1, 3)
    return luminance_u8(region)


def _worst_contrast(lum: np.ndarray, colour: RGB) -> float:
    if lum.size == 0:
        return 21.0
    ratio = contrast_ratios(luminance(colour), lum)
    return float(np.percentile(ratio, 5))


def _size_of(rgb: np.ndarray):
    from ecomctl.types import Size

    return Size(rgb.shape[1], rgb.shape[0])


def _block_box(lines: list[TextLine], pad: int) -> Box:
    return Box(min(t.box.x0 for t in lines) - pad, min(t.box.y0 for t in lines) - pad,
               max(t.box.x1 for t in lines) + pad, max(t.box.y1 for t in lines) + pad)


def choose_colours(scene: Image.Image, layout: Layout, style: Style, min_contrast: float,
                   logo: Image.Image | None = None) -> Layout:
    """Fix each free-standing block's colour against the real scene; add a backing plate where needed (and
    one under the logo when it would not stand out from the scene: `logo`, its layer at the logo box)."""
    plated = {p.role for p in layout.plates if p.kind != "dot"}
    rgb = np.asarray(scene if scene.mode == "RGB" else scene.convert("RGB"))  # converted once per poster
    lines = list(layout.lines)
    plates = list(layout.plates)
    for block in sorted({t.block for t in lines}):
        idx = [i for i, t in enumerate(lines) if t.block == block and t.role not in plated]
        if not idx:
            continue
        group = [lines[i] for i in idx]
        area = _block_box(group, 4)
        options = (style.text, _BLACKISH, _WHITE)
        lum = _region_luminance(rgb, area)
        worst = {c: _worst_contrast(lum, c) for c in set(options)}
        colour = max(options, key=lambda c: worst[c])
        if worst[colour] < min_contrast:
            pad = max(8, group[0].font_size // 3)
            box = _block_box(group, pad)
            for bullet in (p for p in layout.plates if p.kind == "dot" and _beside(p.box, group)):
                box = Box(min(box.x0, bullet.box.x0 - pad), box.y0, box.x1, box.y1)  # the band holds the bullets
            plates.append(Plate(group[0].role, box, style.plate, "band"))
            colour = best_text_colour(style.plate, options)
        for i in idx:
            t = lines[i]
            lines[i] = TextLine(t.role, t.text, t.box, t.font_size, t.weight, colour, t.block)
    for i, p in enumerate(plates):  # a pill the scene swallows (a badge on a panel of its colour) changes colour
        if p.kind == "badge":
            colour = _visible_pill(rgb, p, style)
            if colour != p.color:
                plates[i] = replace(p, color=colour)
                text = best_text_colour(colour, (style.plate, _WHITE, _BLACKISH))
                lines = [replace(t, color=text) if t.role == p.role and t.box.intersection(p.box) > 0 else t
                         for t in lines]
    if logo is not None and layout.logo is not None:
        from ecomctl.text.logo import logo_plate

        plate = logo_plate(rgb, layout.logo, logo, style.plate)
        if plate is not None:
            plates.insert(0, plate)
    return replace(layout, lines=tuple(lines), plates=tuple(plates))


PILL_CONTRAST = 1.6  # a badge pill whose colour is closer than this (WCAG ratio) to the scene around it vanishes


def _visible_pill(rgb: np.ndarray, plate: Plate, style: Style) -> RGB:
    """The pill's colour, or — when it barely differs from the scene under it (median contrast) — the first of
    the accent and the plate colour that stands out, else whichever stands out most."""
    lum = _region_luminance(rgb, plate.box)
    if lum.size == 0:
        return plate.color
    ground = float(np.median(lum))
    seen = {c: float(contrast_ratios(luminance(c), ground)) for c in (plate.color, style.accent, style.plate)}
    if seen[plate.color] >= PILL_CONTRAST:
        return plate.color
    for c in (style.accent, style.plate):
        if seen[c] >= PILL_CONTRAST:
            return c
    return max(seen, key=seen.get)


def _beside(dot: Box, group: list[TextLine]) -> bool:
    """A bullet on the rows of these lines."""
    cy = (dot.y0 + dot.y1) / 2
    return any(t.box.y0 - t.font_size * 0.3 <= cy <= t.box.y1 + t.font_size * 0.3 for t in group) and \
        dot.x1 <= min(t.box.x0 for t in group)


def _draw_plate(img: Image.Image, p: Plate) -> None:
    """Rounded plate with a soft shadow; tags get a punched hole, badges are pills."""
    x0, y0, x1, y1 = p.box.as_list()
    radius = (y1 - y0) // 2 if p.kind in ("badge", "pill") else max(6, (y1 - y0) // 5)
    # the soft shadow is drawn and blurred over its own box plus the blur's reach, not the whole canvas
    m = 40
    rx0, ry0 = max(0, x0 + 2 - m), max(0, y0 + 6 - m)
    rx1, ry1 = min(img.width, x1 + 2 + m + 1), min(img.height, y1 + 6 + m + 1)
    if rx1 > rx0 and ry1 > ry0:
        shadow = Image.new("L", (rx1 - rx0, ry1 - ry0), 0)
        ImageDraw.Draw(shadow).rounded_rectangle((x0 + 2 - rx0, y0 + 6 - ry0, x1 + 2 - rx0, y1 + 6 - ry0), radius,
                                                 fill=70)
        shadow = shadow.filter(ImageFilter.GaussianBlur(8))
        img.paste(Image.new("RGB", shadow.size, (0, 0, 0)), (rx0, ry0), shadow)
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((x0, y0, x1, y1), radius, fill=p.color)
    if p.kind == "tag":  # a small punched hole: reads as a price tag, away from the text
        r = max(3, (y1 - y0) // 14)  # the price text starts 0.8 × its size in: the hole sits well left of it
        cx, cy = x0 + max(2 * r, (y1 - y0) // 5), (y0 + y1) // 2
        lum = float(luminance(p.color))
        hole = (255, 255, 255) if lum < 0.5 else (60, 60, 60)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=hole)


def typeset(scene: Image.Image, layout: Layout, style: Style, min_contrast: float = 4.5,
            product: np.ndarray | None = None, logo: Image.Image | None = None) -> tuple[Image.Image, Layout]:
    """Draw the copy on `scene`; returns the poster and the layout with the colours/plates actually used.

    `product` (HxW alpha of the pasted product) marks pixels the typesetter must leave exactly as they are:
    a plate's soft shadow may reach the product, and the product is never altered after paste-back.
    `logo`: the logo's layer (RGBA, the size of layout.logo), drawn over the plates and under nothing.
    """
    layout = choose_colours(scene, layout, style, min_contrast, logo)
    img = scene.copy() if scene.mode == "RGB" else scene.convert("RGB")
    for plate in sorted(layout.plates, key=lambda p: p.kind == "dot"):  # bullets over any band behind them
        if plate.kind == "dot":
            ImageDraw.Draw(img).ellipse(plate.box.as_list(), fill=plate.color)
        else:
            _draw_plate(img, plate)
    if logo is not None and layout.logo is not None:
        img.paste(logo, (layout.logo.x0, layout.logo.y0), logo)
    draw = ImageDraw.Draw(img)
    path = layout.font or None
    for t in layout.lines:
        font = load_font(t.font_size, t.weight, path)
        left, top, _, _ = font.getbbox(t.text, anchor="ls")
        draw.text((t.box.x0 - left, t.box.y0 - top), t.text, font=font, fill=t.color, anchor="ls")
        if t.role == "list_price":
            _strike(draw, t)
    if product is not None:
        _restore(img, scene, np.asarray(product) > 0)
    return img, layout


def strike_box(line: TextLine) -> Box:
    """The line through a struck-through price: across its ink, a little past both ends, at the middle of
    its height (digits and currency signs sit between the baseline and the cap height), as thick as ~6% of
    the font size."""
    thick = max(1, round(line.font_size * STRIKE))
    over = max(1, round(line.font_size * 0.06))
    cy = (line.box.y0 + line.box.y1) // 2
    return Box(line.box.x0 - over, cy - thick // 2, line.box.x1 + over, cy - thick // 2 + thick)


def _strike(draw: ImageDraw.ImageDraw, line: TextLine) -> None:
    b = strike_box(line)
    draw.rectangle((b.x0, b.y0, b.x1 - 1, b.y1 - 1), fill=line.color)


def _restore(img: Image.Image, scene: Image.Image, keep: np.ndarray) -> None:
    """Put the scene's pixels back where `keep` is set (only the box around them is touched)."""
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    if not len(rows):
        return
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    out = np.asarray(img.crop(box)).copy()
    src = np.asarray(scene.convert("RGB").crop(box) if scene.mode != "RGB" else scene.crop(box))
    k = keep[box[1]:box[3], box[0]:box[2]]
    out[k] = src[k]
    img.paste(Image.fromarray(out, "RGB"), box[:2])


