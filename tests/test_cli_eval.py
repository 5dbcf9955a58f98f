"""`ecomctl eval`: score a folder of third-party-style posters (other weights, faces, sizes, colours,
backgrounds, free layouts) against expected copy, with and without boxes; expected-CSV errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from typer.testing import CliRunner

from ecomctl.cli import app
from ecomctl.errors import ManifestError
from ecomctl.qa.evaluate import load_expected, match_lines
from ecomctl.text.fonts import default_font_path
from ecomctl.text.ocr import OcrLine
from ecomctl.types import Box

runner = CliRunner()
FACES = {"SC": 2, "TC": 3, "JP": 0}  # Noto Sans CJK faces in the .ttc; latin-only copy may use any
COPY = [
    ["夏日清凉 冰爽一夏", "全场满300减50", "¥128"],
    ["Organic Green Tea", "清香回甘 100g", "$12.90"],
    ["年货节 好礼送不停", "Limited Edition", "立即抢购"],
    ["护肤三件套", "Hydrating Serum 30ml", "¥459", "买二送一"],
    ["SUMMER SALE", "Up to 70% off", "Code: SUN70"],
    ["智能手表 长续航", "Smart Watch S3", "¥899起"],
]


def font(size: int, weight: int, face: str) -> ImageFont.FreeTypeFont:
    f = ImageFont.truetype(str(default_font_path()), size, index=FACES[face])
    f.set_variation_by_axes([weight])
    return f


def background(rng: np.random.Generator, w: int, h: int, dark: bool) -> Image.Image:
    base = rng.integers(20, 70, 3) if dark else rng.integers(190, 250, 3)
    tint = np.clip(base + rng.integers(-40, 41, 3), 0, 255)
    t = np.linspace(0, 1, h)[:, None, None]
    arr = (1 - t) * base + t * tint + rng.normal(0, 4, (h, w, 3))  # gradient + grain
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    blobs = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(blobs)
    for _ in range(3):  # soft decorative circles
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(60, 160))
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in rng.integers(0, 60, 3)))
    return Image.blend(img, blobs.filter(ImageFilter.GaussianBlur(30)), 0.15 if not dark else 0.25)


def make_poster_set(folder: Path, seed: int = 3) -> list[tuple[str, list[str], list[list[int]]]]:
    """Posters with free layouts: each line at its own alignment, size, weight, face and colour."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for k, lines in enumerate(COPY):
        w, h = 640, 800
        dark = k % 2 == 1
        img = background(rng, w, h, dark)
        d = ImageDraw.Draw(img)
        y = int(rng.integers(40, 120))
        boxes = []
        for i, text in enumerate(lines):
            latin = text.isascii()
            face = str(rng.choice(list(FACES))) if latin else "SC"
            f = font(int(rng.integers(28, 64)) if i == 0 else int(rng.integers(22, 44)),
                     int(rng.choice([300, 500, 700, 900])), face)
            tw = d.textbbox((0, 0), text, font=f)[2]
            x = {0: 40, 1: (w - tw) // 2, 2: w - 40 - tw}[int(rng.integers(0, 3))]
            colour = tuple(int(v) for v in (rng.integers(225, 256, 3) if dark else rng.integers(0, 60, 3)))
            box = d.textbbox((x, y), text, font=f)
            d.text((x, y), text, font=f, fill=colour)
            boxes.append(list(box))
            y = box[3] + int(rng.integers(40, 140))
        name = f"poster-{k}.{'jpg' if k % 3 == 0 else 'png'}"
        img.save(folder / name, quality=92) if name.endswith("jpg") else img.save(folder / name)
        made.append((name, lines, boxes))
    return made


@pytest.fixture(scope="module")
def posters(tmp_path_factory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("third_party")
    return folder, make_poster_set(folder / "images")


def write_expected(path: Path, made, with_boxes: bool) -> Path:
    """Mixed formats: `lines` with | for even rows, line1..lineN columns for odd rows."""
    cols = ["file", "lines"] + [f"line{i}" for i in range(1, 5)] + (["boxes"] if with_boxes else [])
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for k, (name, lines, boxes) in enumerate(made):
            row = {"file": name}
            if k % 2 == 0:
                row["lines"] = " | ".join(lines)
            else:
                row.update({f"line{i + 1}": t for i, t in enumerate(lines)})
            if with_boxes:
                row["boxes"] = json.dumps(boxes)
            w.writerow(row)
    return path


def test_eval_without_boxes_matches_full_image_ocr(posters, tmp_path):
    folder, made = posters
    expect = write_expected(tmp_path / "expected.csv", made, with_boxes=False)
    res = runner.invoke(app, ["eval", str(folder / "images"), "--expect", str(expect), "--json",
                              str(tmp_path / "eval.json"), "--min-ned", "0.99"])
    data = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    assert res.exit_code == 0, res.output
    assert data["schema"] == "ecomctl.eval/1" and data["images"] == 6 and data["lines"] == 19
    assert data["ned"] >= 0.99, data
    assert {i["mode"] for i in data["items"]} == {"full"}
    assert "overall" in res.stdout


def test_eval_with_boxes_reads_crops(posters, tmp_path):
    folder, made = posters
    expect = write_expected(tmp_path / "expected.csv", made, with_boxes=True)
    res = runner.invoke(app, ["eval", str(folder / "images"), "--expect", str(expect), "--json",
                              str(tmp_path / "eval.json")])
    data = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    assert res.exit_code == 0, res.output
    assert data["ned"] >= 0.99 and data["sen_acc"] >= 0.9, data
    assert {i["mode"] for i in data["items"]} == {"crops"}


def test_eval_threshold_and_missing_image_exit_1(posters, tmp_path):
    folder, made = posters
    wrong = [(made[0][0], ["完全不同的文字", "Nothing alike", "¥1"], made[0][2])]
    expect = write_expected(tmp_path / "wrong.csv", wrong, with_boxes=True)
    res = runner.invoke(app, ["eval", str(folder / "images"), "--expect", str(expect), "--min-ned", "0.9"])
    assert res.exit_code == 1 and "完全不同的文字 → " in res.stdout
    missing = write_expected(tmp_path / "missing.csv", [("nope.png", ["a"], [[0, 0, 5, 5]])], with_boxes=True)
    res = runner.invoke(app, ["eval", str(folder / "images"), "--expect", str(missing), "--json", str(tmp_path / "e.json")])
    item = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))["items"][0]
    assert res.exit_code == 1 and item["mode"] == "error" and item["ned"] == 0.0
    assert item["error"].startswith(f"{missing}:2: cannot read nope.png")


def test_expected_csv_problems_exit_2_with_locations(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('file,lines,boxes\n,a|b,\nx.png,,\ny.png,a|b,"[[0,0,1,1]]"\nz.png,a,nonsense\n', encoding="utf-8")
    with pytest.raises(ManifestError) as err:
        load_expected(bad)
    assert err.value.problems == [
        f"{bad}:2:file: missing image file name",
        f"{bad}:3:lines: no expected text (use a `lines` column with | or line1, line2 …)",
        f"{bad}:4:boxes: 1 boxes for 2 lines",
        f"{bad}:5:boxes: expected a JSON list of [x0, y0, x1, y1]",
    ]
    res = runner.invoke(app, ["eval", str(tmp_path), "--expect", str(bad)])
    assert res.exit_code == 2 and f"error: {bad}:2:file: missing image file name" in res.stderr
    res = runner.invoke(app, ["eval", str(tmp_path / "none"), "--expect", str(bad)])
    assert res.exit_code == 2 and "no such folder of images" in res.stderr


def test_match_lines_joins_split_rows_and_uses_each_read_once():
    found = [OcrLine("限时特惠", 0.9, Box(10, 10, 120, 40)), OcrLine("香水礼盒", 0.9, Box(150, 12, 260, 41)),
             OcrLine("¥199", 0.9, Box(10, 80, 80, 110)), OcrLine("¥199", 0.9, Box(10, 200, 80, 230))]
    assert match_lines(["限时特惠 香水礼盒", "¥199", "¥199", "新品"], found) == ["限时特惠 香水礼盒", "¥199", "¥199", ""]
    assert match_lines(["a"], []) == [""]
