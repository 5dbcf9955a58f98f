"""Visual check sheet of a corpus: N random samples as rows of poster | subject | style | glyph, beside the corpus
(the glyph cell outlines where the logo goes: the logo is a layout element, never glyph ink)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

SHEET = "check_sheet.png"
COLUMNS = ("poster", "subject", "style", "glyph")
CELL = 224


def write_check_sheet(corpus: Path, rows: list[dict[str, Any]], n: int, seed: int = 0) -> Path:
    """`corpus/check_sheet.png`: `n` samples drawn with `seed` (sorted by id), one row each, a header row."""
    picked = sorted(random.Random(seed).sample(rows, min(n, len(rows))), key=lambda r: r["id"])
    label_h = 18
    sheet = Image.new("RGB", (CELL * len(COLUMNS), label_h + len(picked) * (CELL + label_h)), (40, 40, 44))
    draw = ImageDraw.Draw(sheet)
    for c, name in enumerate(COLUMNS):
        draw.text((c * CELL + 6, 3), name, fill=(230, 230, 230))
    for r, row in enumerate(picked):
        y = label_h + r * (CELL + label_h)
        logo = row.get("logo_box")
        extra = "".join([", logo" if logo is not None else "",
                         f", QA {row['qa_status']}" if row.get("qa_status") else ""])
        draw.text((6, y + 3), f"{row['id']}  ({row.get('subject_method')}, {row.get('n_lines', 0)} lines{extra})",
                  fill=(200, 200, 200))
        for c, name in enumerate(COLUMNS):
            box = list(logo) if name == "glyph" and logo is not None else None
            sheet.paste(_cell(corpus, row.get(name), box), (c * CELL, y + label_h))
    path = corpus / SHEET
    from ecomctl.store.files import atomic_save_image

    atomic_save_image(path, sheet)
    return path


def _cell(corpus: Path, rel: str | None, outline: list[int] | None = None) -> Image.Image:
    """The image at `rel` fitted into a cell; `outline` (a box on that image) drawn over it in orange."""
    cell = Image.new("RGB", (CELL, CELL), (90, 90, 96))
    if not rel:
        return cell
    try:
        with Image.open(corpus / rel) as im:
            w = im.width
            im = im.convert("RGB")
            im.thumbnail((CELL - 4, CELL - 4))
            left, top = (CELL - im.width) // 2, (CELL - im.height) // 2
            cell.paste(im, (left, top))
            if outline is not None:
                s = im.width / w
                x0, y0, x1, y1 = (round(v * s) for v in outline)
                ImageDraw.Draw(cell).rectangle((left + x0, top + y0, left + x1, top + y1), outline=(255, 150, 40))
    except OSError:
        pass
    return cell
