"""Demo assets: two wordmark logos (transparent PNG) set in the package's own font, for the demo manifests.

Writes, reproducibly:
  manifests/assets/logos/zhenyan.png   臻颜 ZHENYAN: a deep-brown monogram seal and a two-line wordmark (skincare)
  manifests/assets/logos/bebamom.png   BEBAMOM 贝芭萌: a soft-blue rounded wordmark with a leaf dot (infant formula)
Run: .venv/bin/python tools/make_demo_logos.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecomctl.text.fonts import load_font

SCALE = 4  # drawn large, then scaled down: smooth edges


def _zhenyan() -> Image.Image:
    brown, gold = (74, 44, 24, 255), (176, 132, 74, 255)
    w, h = 560 * SCALE, 150 * SCALE
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    r = 66 * SCALE  # the seal: a circle with the monogram 臻
    cx, cy = 75 * SCALE, h // 2
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=brown)
    d.ellipse((cx - r + 7 * SCALE, cy - r + 7 * SCALE, cx + r - 7 * SCALE, cy + r - 7 * SCALE),
              outline=gold, width=3 * SCALE)
    seal = load_font(78 * SCALE, 700)
    d.text((cx, cy), "臻", font=seal, fill=gold, anchor="mm")
    x = cx + r + 24 * SCALE
    d.text((x, 78 * SCALE), "臻颜", font=load_font(64 * SCALE, 800), fill=brown, anchor="ls")
    d.text((x + 4 * SCALE, 122 * SCALE), "Z H E N Y A N", font=load_font(27 * SCALE, 500), fill=gold, anchor="ls")
    return _finish(img)


def _bebamom() -> Image.Image:
    blue, green = (38, 96, 170, 255), (92, 176, 120, 255)
    w, h = 600 * SCALE, 150 * SCALE
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.text((10 * SCALE, 92 * SCALE), "bebamom", font=load_font(92 * SCALE, 800), fill=blue, anchor="ls")
    # a leaf after the name, tilted up: the brand's "organic" mark (an ellipse with a vein, rotated)
    leaf = Image.new("RGBA", (60 * SCALE, 60 * SCALE), (0, 0, 0, 0))
    ld = ImageDraw.Draw(leaf)
    ld.ellipse((4 * SCALE, 18 * SCALE, 56 * SCALE, 42 * SCALE), fill=green)
    ld.line((8 * SCALE, 30 * SCALE, 50 * SCALE, 30 * SCALE), fill=(255, 255, 255, 0), width=2 * SCALE)
    leaf = leaf.rotate(40, resample=Image.Resampling.BICUBIC)
    right = d.textbbox((10 * SCALE, 92 * SCALE), "bebamom", font=load_font(92 * SCALE, 800), anchor="ls")[2]
    img.alpha_composite(leaf, (right - 6 * SCALE, 2 * SCALE))
    d.text((14 * SCALE, 136 * SCALE), "贝芭萌 · ORGANIC", font=load_font(30 * SCALE, 600), fill=green, anchor="ls")
    return _finish(img)


def _finish(img: Image.Image) -> Image.Image:
    img = img.crop(img.getchannel("A").getbbox())
    return img.resize((img.width // SCALE, img.height // SCALE), Image.Resampling.LANCZOS)


def main() -> None:
    out = ROOT / "manifests" / "assets" / "logos"  # not beside the packshots: tests take every *.png there
    for name, make in (("zhenyan.png", _zhenyan), ("bebamom.png", _bebamom)):
        make().save(out / name, optimize=True)
        print(out / name, (out / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
