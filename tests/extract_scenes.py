"""Extraction fixtures (tests + benchmarks/bench_extract.py): the committed packshots placed into real-looking
scenes and full-bleed posters, each with its ground-truth mask. Deterministic per seed; nothing committed.

Photographic material: scikit-image's bundled sample photos (`skimage.data`, dev extra): coffee (CC0,
Rachel Michetti), chelsea (CC0, Stéfan van der Walt), astronaut and rocket (public domain, NASA /
SpaceX), and the CC0 textures grass, gravel and brick (cc0textures / DeviantArt CC0) as table tops.
Generated scenes (garden bokeh, street, sky/landscape) need no photo at all. Depth of field = the
backdrop blurred, contact + cast shadows under the product, out-of-focus clutter behind it, sensor
noise and JPEG. Posters: a full-bleed scene with copy (title, subtitle, price pill) in Noto Sans CJK.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "manifests" / "assets"
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")
TEXTURES = ("grass", "gravel", "brick")
GENERATED = ("garden", "street", "landscape")


@dataclass(frozen=True)
class Fixture:
    name: str
    kind: str  # scene | poster
    image: Image.Image  # RGB
    truth: np.ndarray  # HxW uint8 ground-truth product mask
    text_boxes: tuple[tuple[int, int, int, int], ...] = ()
    lines: tuple[str, ...] = ()


def packshots() -> list[tuple[str, Image.Image, np.ndarray]]:
    return [(p.stem, Image.open(p).convert("RGBA"), np.asarray(Image.open(ASSETS / "masks" / p.name)))
            for p in sorted(ASSETS.glob("*.png"))]


def _photo(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]


def _cover(img: np.ndarray, w: int, h: int) -> np.ndarray:
    ih, iw = img.shape[:2]
    k = max(w / iw, h / ih)
    big = cv2.resize(img, (round(iw * k) + 1, round(ih * k) + 1), interpolation=cv2.INTER_CUBIC)
    y, x = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[y:y + h, x:x + w].astype(np.float32)


def _generated(kind: str, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Photographic-looking scenes from noise: garden bokeh, a street of façades, sky over hills."""
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if kind == "garden":
        base = np.array([60, 110, 50], np.float32) + 40 * cv2.resize(rng.random((6, 6, 3)).astype(np.float32), (w, h))
        img = base.copy()
        for _ in range(60):  # out-of-focus highlights through leaves
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            col = rng.choice([[230, 240, 180], [250, 220, 230], [200, 230, 120], [255, 250, 240]])
            layer = np.zeros((h, w), np.float32)
            cv2.circle(layer, c, int(rng.integers(w // 40, w // 12)), 1.0, -1)
            img = img * (1 - 0.5 * layer[..., None]) + 0.5 * layer[..., None] * np.array(col, np.float32)
        return img
    if kind == "street":
        img = np.zeros((h, w, 3), np.float32)
        x = 0
        while x < w:  # façades with windows
            bw = int(rng.integers(w // 8, w // 3))
            col = rng.uniform(90, 220, 3)
            img[:, x:x + bw] = col
            for wy in range(int(h * 0.05), int(h * 0.7), max(8, h // 12)):
                for wx in range(x + 8, x + bw - 16, max(10, w // 20)):
                    img[wy:wy + h // 24, wx:wx + w // 40] = col * 0.45
            x += bw
        img[int(h * 0.72):] = np.array([80, 80, 85], np.float32)  # road
        return img
    sky = (1 - yy) * np.array([110, 160, 230], np.float32) + yy * np.array([200, 220, 240], np.float32)
    img = np.broadcast_to(sky, (h, w, 3)).copy()
    ridge = (0.45 + 0.1 * np.sin(np.linspace(0, rng.uniform(4, 9), w) + rng.uniform(0, 6))) * h
    below = np.arange(h)[:, None] > ridge[None, :]
    img[below] = np.array([70, 120, 60], np.float32) + rng.normal(0, 6, (int(below.sum()), 3))
    return img


def _backdrop(w: int, h: int, rng: np.random.Generator, source: str) -> np.ndarray:
    img = _cover(_photo(source), w, h) if source in PHOTOS else _generated(source, w, h, rng)
    return cv2.GaussianBlur(img, (0, 0), float(rng.uniform(6, 14)) * w / 1000)  # depth of field


def _table(img: np.ndarray, top: int, rng: np.random.Generator) -> np.ndarray:
    """A textured, tinted table top from `top` down, in perspective, sharper towards the camera."""
    h, w = img.shape[:2]
    tex = _cover(_photo(str(rng.choice(TEXTURES))), w, h - top) / 255.0
    tint = rng.uniform(90, 220, 3).astype(np.float32)
    surface = tint * (0.75 + 0.35 * tex)
    src = np.float32([[0, 0], [w, 0], [w, h - top], [0, h - top]])
    dst = np.float32([[-0.4 * w, 0], [1.4 * w, 0], [w, h - top], [0, h - top]])
    surface = cv2.warpPerspective(surface, cv2.getPerspectiveTransform(src, dst), (w, h - top),
                                  borderMode=cv2.BORDER_REFLECT)
    surface = cv2.GaussianBlur(surface, (0, 0), 1.2)
    out = img.copy()
    out[top:] = surface
    return out


def _clutter(img: np.ndarray, rng: np.random.Generator, floor: int, avoid: tuple[int, int]) -> np.ndarray:
    """One or two out-of-focus objects (a cup, a vase) standing on the table away from the product."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 3))):
        side = rng.choice([0.12, 0.88])
        cx, ow, oh = int(side * w), int(rng.uniform(0.08, 0.14) * w), int(rng.uniform(0.12, 0.25) * h)
        if avoid[0] - ow < cx < avoid[1] + ow:
            continue
        layer = np.zeros((h, w), np.float32)
        cv2.ellipse(layer, (cx, floor - oh // 2), (ow // 2, oh // 2), 0, 0, 360, 1.0, -1)
        layer = cv2.GaussianBlur(layer, (0, 0), 0.006 * w + 2)
        col = rng.uniform(40, 230, 3).astype(np.float32)
        img = img * (1 - layer[..., None]) + layer[..., None] * col
    return img


def _place(img: np.ndarray, pack: Image.Image, truth: np.ndarray, box: tuple[int, int, int, int],
           shadow: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale the packshot into `box` (aspect kept, bottom-centred), drop shadows, composite; → (img, mask)."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    k = min((x1 - x0) / pack.width, (y1 - y0) / pack.height)
    pw, ph = max(1, round(pack.width * k)), max(1, round(pack.height * k))
    px, py = x0 + (x1 - x0 - pw) // 2, y1 - ph
    rgba = np.asarray(pack.resize((pw, ph), Image.Resampling.LANCZOS), np.float32)
    alpha = np.zeros((h, w), np.float32)
    alpha[py:py + ph, px:px + pw] = rgba[..., 3] / 255.0
    colour = np.zeros((h, w, 3), np.float32)
    colour[py:py + ph, px:px + pw] = rgba[..., :3]
    if shadow > 0:  # contact shadow under the base + a soft cast shadow to one side
        contact = np.zeros((h, w), np.float32)
        cv2.ellipse(contact, (px + pw // 2, py + ph), (int(pw * 0.55), max(3, int(ph * 0.04))), 0, 0, 360, 1.0, -1)
        cast = cv2.warpAffine(alpha, np.float32([[1, -0.5, 0.5 * (py + ph)], [0, 0.35, 0.65 * (py + ph)]]), (w, h))
        dark = cv2.GaussianBlur(contact, (0, 0), 0.01 * w + 1) + 0.5 * cv2.GaussianBlur(cast, (0, 0), 0.02 * w + 2)
        img = img * (1 - shadow * np.clip(dark, 0, 1))[..., None]
    img = img * (1 - alpha[..., None]) + colour * alpha[..., None]
    mask = np.zeros((h, w), np.uint8)
    mask[py:py + ph, px:px + pw] = cv2.resize(truth, (pw, ph), interpolation=cv2.INTER_LINEAR)
    return img, mask


def _finish(img: np.ndarray, rng: np.random.Generator, quality: int = 90) -> Image.Image:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1 - 0.18 * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) / 0.5)
    img = img * vignette[..., None] + rng.normal(0, 2.0, img.shape).astype(np.float32)
    _ok, buf = cv2.imencode(".jpg", np.clip(img + 0.5, 0, 255).astype(np.uint8)[..., ::-1],
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    return Image.fromarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy(), "RGB")


def scene(i: int, seed: int = 0) -> Fixture:
    """Product on a table in front of a blurred photo / generated scene, shadows and clutter."""
    rng = np.random.default_rng(seed * 1000 + i)
    shots = packshots()
    sku, pack, truth = shots[i % len(shots)]
    source = (PHOTOS + GENERATED)[(i // len(shots) + i) % (len(PHOTOS) + len(GENERATED))]
    w, h = [(1024, 1024), (1200, 900), (900, 1200)][i % 3]
    img = _backdrop(w, h, rng, source)
    floor = int(h * rng.uniform(0.82, 0.9))
    top = int(h * rng.uniform(0.55, 0.68))
    img = _table(img, top, rng)
    bw = int(w * rng.uniform(0.35, 0.55))
    bx = int(rng.uniform(0.2, 0.8) * w - bw / 2)
    bx = min(max(bx, int(0.06 * w)), int(0.94 * w) - bw)
    img = _clutter(img, rng, top + (floor - top) // 3, (bx, bx + bw))
    ph = int(h * rng.uniform(0.45, 0.62))
    img, mask = _place(img, pack, truth, (bx, floor - ph, bx + bw, floor), shadow=0.55)
    return Fixture(f"scene-{i:02d}-{sku}-{source}", "scene", _finish(img, rng), mask)


COPY = [("Spring Glow Edition", "Made for every day", "¥199"), ("限时特惠 新品上市", "温和配方 全天候守护", "¥89"),
        ("Summer Essentials", "Free shipping today", "$24.99"), ("经典款 买一送一", "官方旗舰店 正品保障", "¥129")]


def poster(i: int, seed: int = 0, product: bool = True) -> Fixture:
    """Full-bleed scene poster: product on one side, copy (title, subtitle, price pill) on the other
    (`product=False`: the same poster with no product in it — nothing to extract)."""
    from ecomctl.text.fonts import load_font

    rng = np.random.default_rng(seed * 1000 + 500 + i)
    shots = packshots()
    sku, pack, truth = shots[i % len(shots)]
    source = (GENERATED + PHOTOS)[i % (len(PHOTOS) + len(GENERATED))]
    w, h = [(1080, 1350), (1024, 1024), (1200, 800)][i % 3]
    img = _backdrop(w, h, rng, source)
    if i % 2:
        img = _table(img, int(h * 0.7), rng)
    left = bool(i % 2)
    pw = int(w * 0.48)
    px = int(w * 0.04) if left else w - pw - int(w * 0.04)
    if product:
        img, mask = _place(img, pack, truth, (px, int(h * 0.2), px + pw, int(h * 0.92)), shadow=0.45)
    else:
        mask = np.zeros((h, w), np.uint8)
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    tx0 = int(w * 0.56) if left else int(w * 0.05)
    tx1 = w - int(w * 0.05) if left else int(w * 0.5)
    boxes, y = [], int(h * 0.18)
    title, sub, price = COPY[i % len(COPY)]
    for text, size, weight, pill in ((title, 0.062, 800, False), (sub, 0.036, 400, False), (price, 0.06, 700, True)):
        font = load_font(int(min(w, h) * size), weight)
        while font.getlength(text) > tx1 - tx0 and font.size > 14:
            font = load_font(font.size - 2, weight)
        bb = font.getbbox(text)
        if pill:
            pad = font.size // 3
            draw.rounded_rectangle((tx0, y, tx0 + bb[2] - bb[0] + 2 * pad, y + bb[3] - bb[1] + 2 * pad), radius=pad,
                                   fill=(200, 30, 40))
            draw.text((tx0 + pad - bb[0], y + pad - bb[1]), text, font=font, fill=(255, 255, 255))
            boxes.append((tx0 + pad, y + pad, tx0 + pad + bb[2] - bb[0], y + pad + bb[3] - bb[1]))
        else:
            plate = canvas.crop((tx0, y, tx0 + bb[2] - bb[0], y + bb[3] - bb[1])).filter(ImageFilter.BoxBlur(4))
            light = np.asarray(plate.convert("L")).mean() > 128
            draw.text((tx0 - bb[0], y - bb[1]), text, font=font, fill=(20, 20, 20) if light else (255, 255, 255))
            boxes.append((tx0, y, tx0 + bb[2] - bb[0], y + bb[3] - bb[1]))
        y += int((bb[3] - bb[1]) * 1.9)
    name = f"poster-{i:02d}-{sku}-{source}" if product else f"poster-{i:02d}-no-product-{source}"
    return Fixture(name, "poster", _finish(np.asarray(canvas, np.float32), rng, 92),
                   mask, tuple(boxes), (title, sub, price))


def fixture_set(n_scenes: int = 8, n_posters: int = 8, seed: int = 0) -> list[Fixture]:
    return [scene(i, seed) for i in range(n_scenes)] + [poster(i, seed) for i in range(n_posters)]
