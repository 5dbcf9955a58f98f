"""Shared fixtures: a synthetic RGBA product, tiny manifests, the committed packshots."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# the same outcome on any machine: no weights a developer downloaded (Hugging Face cache, rembg's ~/.u2net)
# change which model a test gets; tests that want them point these at their own tmp folders
_EMPTY_HOME = tempfile.mkdtemp(prefix="ecomctl-tests-home-")
atexit.register(shutil.rmtree, _EMPTY_HOME, True)
os.environ["HF_HOME"] = os.path.join(_EMPTY_HOME, "huggingface")
os.environ["U2NET_HOME"] = os.path.join(_EMPTY_HOME, "u2net")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "manifests" / "assets"  # committed packshots (+ masks/): tests never read outside the repo


def make_product(path: Path, size: tuple[int, int] = (300, 400), alpha: bool = True) -> Path:
    """A bottle-like product: rounded body + cap, printed label, on transparency (or near-white)."""
    w, h = size
    img = Image.new("RGBA", size, (250, 250, 250, 0 if alpha else 255))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((w * 0.2, h * 0.25, w * 0.8, h * 0.95), radius=int(w * 0.12), fill=(40, 90, 160, 255))
    d.rectangle((w * 0.35, h * 0.08, w * 0.65, h * 0.27), fill=(210, 170, 60, 255))
    d.rectangle((w * 0.27, h * 0.5, w * 0.73, h * 0.7), fill=(240, 240, 230, 255))
    img.save(path)
    return path


@pytest.fixture
def product_png(tmp_path: Path) -> Path:
    return make_product(tmp_path / "product.png")


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    import csv

    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
    return path


def bad_and_good_manifest(tmp_path: Path) -> Path:
    """SKU BAD (a photo that is not an image) before SKU OK (a good product): one failure in a batch."""
    make_product(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    return write_manifest(tmp_path / "m.csv", [
        {"sku": "BAD", "image": "broken.png", "title": "坏图", "size": "512x512", "variants": "1"},
        {"sku": "OK", "image": "ok.png", "title": "好图 Good", "size": "512x512", "variants": "1"},
    ])


@pytest.fixture
def small_manifest(tmp_path: Path) -> Path:
    make_product(tmp_path / "a.png")
    make_product(tmp_path / "b.png", (400, 300))
    return write_manifest(tmp_path / "m.csv", [
        {"sku": "A1", "image": "a.png", "title": "保湿面霜 长效锁水", "subtitle": "Deep hydration",
         "price": "¥99", "badge": "新品", "size": "512x512", "variants": "2"},
        {"sku": "B2", "image": "b.png", "title": "Travel Mug", "subtitle": "Keeps coffee hot for 12 h",
         "price": "$24", "size": "banner", "variants": "1"},
    ])


@pytest.fixture
def fast_config(tmp_path: Path) -> Path:
    """Config that keeps CLI tests fast: OCR text QA off (QA tests cover it separately)."""
    p = tmp_path / "fast.yaml"
    p.write_text("qa:\n  text:\n    enabled: false\n", encoding="utf-8")
    return p


def shared_packshots() -> list[tuple[Path, Path]]:
    if not SHARED.is_dir():
        return []
    return [(p, SHARED / "masks" / p.name) for p in sorted(SHARED.glob("*.png"))]


def rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.int16)


@pytest.fixture
def counted_digests(monkeypatch) -> list[str]:
    """The name of every file read and hashed in full (posters, photos, style images), in order."""
    from ecomctl.store import files as store_files
    from ecomctl.store import posters as store_posters

    calls: list[str] = []
    real = store_files.file_digest

    def counting(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(store_files, "file_digest", counting)
    monkeypatch.setattr(store_posters, "file_digest", counting)
    store_files._DIGESTS.clear()
    return calls


def counting_sidecar_writes(monkeypatch) -> list[str]:
    """From now on, the file name of every sidecar the store writes (store.posters.atomic_write_json), in order."""
    from ecomctl.store import posters as store_posters

    writes: list[str] = []
    real = store_posters.atomic_write_json

    def counting(path, data):
        writes.append(Path(path).name)
        return real(path, data)

    monkeypatch.setattr(store_posters, "atomic_write_json", counting)
    return writes
