"""Demo assets: copy the shared packshots + masks into manifests/assets and make flattened (no-alpha) photos.

Writes, reproducibly (fixed seeds):
  manifests/assets/<id>.png            the RGBA packshot (copied)
  manifests/assets/masks/<id>.png      its true mask (copied)
  manifests/assets/<id>-flat.jpg       packshot over near-white RGB(250,250,250), for every id
  manifests/assets/<SWEEP>-sweep.jpg   one packshot over a studio grey sweep
  manifests/assets/<PAPER>-paper.jpg   one packshot over tinted paper with a soft drop shadow
Run: .venv/bin/python tools/make_flat_assets.py [--src ../shared/data/products]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.backdrops import flatten_over

SWEEP_ID = "749870344644"  # two phone cases: a multi-item SKU on a grey sweep
PAPER_ID = "809702153676"  # cushion compacts: tinted paper with a soft shadow
# (id suffix, backdrop, shadow strength, noise sigma) — the flattened variants this script makes
VARIANTS = {"flat": ("plain", 0.0, 0.0), "sweep": ("sweep", 0.0, 1.0), "paper": ("paper", 0.3, 0.0)}


def make(src: Path, dst: Path) -> list[Path]:
    (dst / "masks").mkdir(parents=True, exist_ok=True)
    written = []
    for png in sorted(src.glob("*.png")):
        sku = png.stem
        for target in (dst / png.name, dst / "masks" / png.name):
            shutil.copyfile(png if target.parent == dst else src / "masks" / png.name, target)
            written.append(target)
        packshot = Image.open(png)
        kinds = ["flat"] + (["sweep"] if sku == SWEEP_ID else []) + (["paper"] if sku == PAPER_ID else [])
        for kind in kinds:
            backdrop, shadow, noise = VARIANTS[kind]
            out = dst / f"{sku}-{kind}.jpg"
            flatten_over(packshot, backdrop, shadow, noise, seed=int(sku) % 2**31).save(out, quality=92)
            written.append(out)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "data" / "products")
    ap.add_argument("--dst", type=Path, default=ROOT / "manifests" / "assets")
    args = ap.parse_args()
    for path in make(args.src, args.dst):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
