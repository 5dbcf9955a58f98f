"""Synthetic "found" posters (not made by our renderer) with known copy and product: fixtures for tests
and benchmarks of the poster-folder source. Varied fonts, weights, sizes, backgrounds and layouts."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ecomctl.text.fonts import load_font

TITLES = ["夏日清凉", "限时特惠", "新品上市", "草本精华", "全场五折", "匠心之选", "自然好物", "清爽一夏"]
LATIN = ["Fresh Lemon Soda", "Organic Green Tea", "Summer Sale", "Limited Edition", "Pure Hydration",
         "Best Seller", "Daily Vitamin", "Cold Brew Coffee"]
PRICES = ["¥199", "¥29.9", "$19.99", "¥88", "$45"]
SMALL = ["包邮到家", "Free Shipping", "买一送一", "New Arrival", "官方正品"]
# faces of the packaged Noto Sans CJK (pip manimgx-fonts-cjk), never system fonts: the same posters anywhere
FACES = ("noto-cjk-sc", "noto-cjk-tc", "noto-cjk-jp")
SIZES = [(600, 800), (800, 800), (720, 960), (800, 600)]


@dataclass(frozen=True)
class TruthLine:
    text: str
    box: list[int]
    font: str
    size: int
    weight: int


@dataclass(frozen=True)
class PosterTruth:
    file: str
    sku: str
    lines: list[TruthLine]
    product_box: list[int]


def make_posters(folder: Path, n: int, seed: int = 0, per_sku: int = 2) -> list[PosterTruth]:
    """Write n posters + metadata.csv + truth.json into `folder`; returns the truth."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    truths = [_poster(folder, i, rng, f"SKU{i // per_sku:03d}") for i in range(n)]
    with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "sku", "group", "prompt", "subject"])
        for i, t in enumerate(truths):
            w.writerow([t.file, t.sku, t.sku, "" if i % 2 else "a bottle on a soft studio backdrop", "bottle"])
    (folder / "truth.json").write_text(json.dumps([asdict(t) for t in truths], ensure_ascii=False, indent=1),
                                       encoding="utf-8")
    return truths


def _poster(folder: Path, i: int, rng: random.Random, sku: str) -> PosterTruth:
    w, h = SIZES[i % len(SIZES)]
    dark_bg = rng.random() < 0.35
    bg_a, bg_b = (_colour(rng, 15, 70), _colour(rng, 30, 90)) if dark_bg else (_colour(rng, 150, 250),
                                                                                 _colour(rng, 120, 240))
    img = _background(w, h, bg_a, bg_b, rng.choice(["flat", "vertical", "horizontal", "radial"]), rng)
    product_side = rng.choice(["left", "right", "bottom"])
    pbox = _product_box(w, h, product_side)
    _draw_product(img, pbox, rng, bright=dark_bg)
    text_area = _text_area(w, h, pbox, product_side)
    lines = _draw_copy(img, text_area, rng, dark=not dark_bg)
    name = f"poster_{i:03d}.png"
    img.save(folder / name)
    return PosterTruth(name, sku, lines, pbox)


def _colour(rng: random.Random, lo: int, hi: int) -> tuple[int, int, int]:
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def _background(w: int, h: int, a, b, kind: str, rng: random.Random) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = {"flat": np.zeros((h, w), np.float32), "vertical": yy / h, "horizontal": xx / w,
         "radial": np.clip(np.hypot(xx - w / 2, yy - h / 2) / (0.7 * max(w, h)), 0, 1)}[kind]
    rgb = np.array(a, np.float32) * (1 - t[..., None]) + np.array(b, np.float32) * t[..., None]
    rgb += np.random.default_rng(rng.randint(0, 2**31)).normal(0, 2.0, rgb.shape)  # light grain
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def _product_box(w: int, h: int, side: str) -> list[int]:
    if side == "left":
        return [int(0.08 * w), int(0.25 * h), int(0.42 * w), int(0.9 * h)]
    if side == "right":
        return [int(0.58 * w), int(0.25 * h), int(0.92 * w), int(0.9 * h)]
    return [int(0.35 * w), int(0.5 * h), int(0.65 * w), int(0.94 * h)]


def _draw_product(img: Image.Image, box: list[int], rng: random.Random, bright: bool) -> None:
    """A shaded bottle: body, shoulder, neck and cap, in a colour far from the background's."""
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    bw = x1 - x0
    body = _colour(rng, 170, 240) if bright else (rng.randint(10, 90), rng.randint(20, 120), rng.randint(40, 160))
    neck_w = bw * 0.3
    cx = (x0 + x1) / 2
    cap = (230, 230, 230) if bright else (30, 30, 30)
    d.rectangle([cx - neck_w / 2, y0, cx + neck_w / 2, y0 + 0.12 * (y1 - y0)], fill=cap)
    d.rectangle([cx - neck_w / 2, y0 + 0.12 * (y1 - y0), cx + neck_w / 2, y0 + 0.25 * (y1 - y0)], fill=body)
    d.rounded_rectangle([x0, y0 + 0.22 * (y1 - y0), x1, y1], radius=int(bw * 0.18), fill=body)
    for k in range(6):  # a highlight band for some shading
        shade = tuple(min(255, c + 12 * (6 - k)) for c in body)
        d.rectangle([x0 + bw * (0.15 + 0.02 * k), y0 + 0.3 * (y1 - y0), x0 + bw * (0.17 + 0.02 * k), y1 - 0.08 * (y1 - y0)],
                    fill=shade)


def _text_area(w: int, h: int, pbox: list[int], side: str) -> list[int]:
    m = int(0.06 * min(w, h))
    if side == "left":
        return [pbox[2] + m, m, w - m, h - m]
    if side == "right":
        return [m, m, pbox[0] - m, h - m]
    return [m, m, w - m, pbox[1] - m]


def _draw_copy(img: Image.Image, area: list[int], rng: random.Random, dark: bool) -> list[TruthLine]:
    texts = [rng.choice(TITLES), rng.choice(LATIN), rng.choice(PRICES), rng.choice(SMALL)]
    colour = (rng.randint(0, 60), rng.randint(0, 60), rng.randint(0, 60)) if dark else (250, 250, 250)
    d = ImageDraw.Draw(img)
    x0, y, x1, y1 = area
    lines = []
    for n, text in enumerate(texts[: rng.randint(2, 4)]):
        font, name, size, weight = _font(text, n, rng)
        while font.getlength(text) > x1 - x0 and size > 16:
            size -= 2
            font, name, size, weight = _font(text, n, rng, size, weight, name)
        bb = font.getbbox(text)
        if y + bb[3] - bb[1] > y1:
            break
        d.text((x0 - bb[0], y - bb[1]), text, fill=colour, font=font)
        lines.append(TruthLine(text, [x0, y, x0 + bb[2] - bb[0], y + bb[3] - bb[1]], name, size, weight))
        y += bb[3] - bb[1] + rng.randint(int(0.5 * size), size)
    return lines


def _font(text: str, n: int, rng: random.Random, size: int | None = None, weight: int | None = None,
          name: str | None = None):
    size = size or (rng.randint(44, 64) if n == 0 else rng.randint(26, 40))
    weight = weight or rng.choice([300, 400, 500, 700, 900])
    name = name or rng.choice(FACES)
    return load_font(size, weight, face=name.rsplit("-", 1)[1]), name, size, weight
