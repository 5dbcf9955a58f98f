"""Hand-made posters for the QA/OCR/eval tests (PIL + Layout/TextLine values, no render spine needed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ecomctl.text.fonts import load_font
from ecomctl.types import Box, Layout, Poster, Size, SkuRow, Style, TextLine

RGB = tuple[int, int, int]
COPY = (("title", "限时特惠 香水礼盒", 44, 800), ("subtitle", "Eau de Parfum 50ml", 26, 400),
        ("price", "¥199.00", 40, 700))


def gradient(size: Size, top: RGB, bottom: RGB) -> Image.Image:
    t = np.linspace(0.0, 1.0, size.h)[:, None, None]
    arr = (1 - t) * np.array(top, float) + t * np.array(bottom, float)
    return Image.fromarray(np.repeat(arr, size.w, axis=1).astype(np.uint8), "RGB")


def product_layer(size: Size, box: Box) -> Image.Image:
    """An RGBA 'bottle' with some texture and a feathered edge, placed at `box`."""
    layer = Image.new("RGBA", size.tuple, (0, 0, 0, 0))
    rng = np.random.default_rng(7)
    w, h = box.w, box.h
    body = rng.integers(0, 40, (h, w, 3)) + np.array([150, 60, 90])
    body[:, : w // 3] += 50  # a highlight
    shape = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(shape)
    d.rounded_rectangle((w * 0.1, h * 0.25, w * 0.9, h * 0.98), radius=int(w * 0.15), fill=255)
    d.rectangle((w * 0.38, h * 0.05, w * 0.62, h * 0.26), fill=255)
    alpha = shape.filter(ImageFilter.GaussianBlur(1.2))
    cut = Image.fromarray(np.clip(body, 0, 255).astype(np.uint8), "RGB")
    cut.putalpha(alpha)
    layer.paste(cut, (box.x0, box.y0))
    return layer


def draw_lines(img: Image.Image, specs, x: int, y: int, color: RGB, gap: int = 14) -> list[TextLine]:
    """Draw (role, text, size, weight) lines top-down from (x, y); returns their ink boxes."""
    d = ImageDraw.Draw(img)
    lines = []
    for block, (role, text, size, weight) in enumerate(specs):
        font = load_font(size, weight)
        ink = d.textbbox((x, y), text, font=font)
        d.text((x, y), text, font=font, fill=color)
        lines.append(TextLine(role, text, Box(*ink), size, weight, color, block))
        y = ink[3] + gap
    return lines


def make_poster(size: Size | None = None, copy=COPY, top: RGB = (250, 240, 225), bottom: RGB = (235, 205, 170),
                text_color: RGB = (30, 25, 20), sku: str = "SKU-1", variant: int = 1,
                style: str | None = None) -> Poster:
    size = size or Size(512, 512)
    background = gradient(size, top, bottom)
    subject_box = Box(size.w // 2, size.h // 3, size.w - size.w // 12, size.h - size.h // 16)
    layer = product_layer(size, subject_box)
    image = background.copy()
    image.paste(layer, (0, 0), layer)
    lines = draw_lines(image, copy, size.w // 14, size.h // 12, text_color)
    row = SkuRow(sku=sku, image=Path("/nonexistent/photo.png"), title=copy[0][1], size=size,
                 subtitle=copy[1][1] if len(copy) > 1 else None, price=copy[2][1] if len(copy) > 2 else None)
    layout = Layout(size, "test", subject_box, tuple(lines), font="NotoSansCJK-VF.otf.ttc")
    style = Style(name=style or f"style-{variant}", background=(top, bottom))
    mask = np.asarray(layer.getchannel("A")).copy()
    return Poster(row=row, variant=variant, seed=0, image=image, background=background, subject_mask=mask,
                  subject_layer=layer, layout=layout, style=style)


def with_image(poster: Poster, image: Image.Image) -> Poster:
    return replace(poster, image=image)


def damage_line(poster: Poster, index: int) -> Poster:
    """Paint a blot over the middle half of one typeset line and scribble over the rest (copy unreadable)."""
    img = poster.image.copy()
    d = ImageDraw.Draw(img)
    b = poster.layout.lines[index].box
    d.rectangle((b.x0 + b.w // 4, b.y0 - 2, b.x1 - b.w // 4, b.y1 + 2), fill=(200, 40, 40))
    for k in range(6):
        y = b.y0 + (k + 0.5) * b.h / 6
        d.line((b.x0, y, b.x1, y + (b.h / 3 if k % 2 else -b.h / 3)), fill=(30, 25, 20), width=max(3, b.h // 6))
    return with_image(poster, img)
