"""Extraction previews: per-SKU mask overlay and one contact sheet to eyeball a whole catalog's masks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ecomctl.errors import EcomctlError
from ecomctl.types import Subject

OUTLINE = (0, 190, 255)
DIM = (40, 40, 48)
TILE = 220  # thumbnail side in the contact sheet
CAPTION = 46


def overlay(subject: Subject, dim: float = 0.55) -> Image.Image:
    """The source photo with everything outside the mask dimmed, the mask edge outlined and the bbox drawn."""
    rgb = np.asarray(subject.image.convert("RGB"), dtype=np.float32)
    a = (subject.mask.astype(np.float32) / 255.0)[..., None]
    out = rgb * (a + (1 - a) * (1 - dim)) + np.array(DIM, np.float32) * (1 - a) * dim
    img = out.clip(0, 255).astype(np.uint8)
    width = max(2, round(max(img.shape[:2]) / 400))
    contours, _ = cv2.findContours((subject.mask > 127).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(img, contours, -1, OUTLINE, width, lineType=cv2.LINE_AA)
    b = subject.bbox
    cv2.rectangle(img, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), (255, 200, 0), 1)
    return Image.fromarray(img, "RGB")


def checkerboard(size: tuple[int, int], cell: int = 10) -> Image.Image:
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    board = np.where(((xs // cell) + (ys // cell)) % 2 == 0, 235, 200).astype(np.uint8)
    return Image.fromarray(board, "L").convert("RGB")


def cutout_on_checker(subject: Subject) -> Image.Image:
    cut = subject.cutout()
    base = checkerboard(cut.size)
    base.paste(cut, (0, 0), cut)
    return base


@dataclass(frozen=True)
class SheetEntry:
    """One catalog item on the contact sheet: a finished subject, or the error that stopped it."""

    sku: str
    subject: Subject | None = None
    error: str | None = None

    @property
    def caption(self) -> tuple[str, str]:
        if self.subject is None:
            return self.sku, f"error: {self.error or 'unknown'}"
        fallback = " (fallback)" if self.subject.note and self.subject.method != "alpha" else ""
        return self.sku, f"{self.subject.method}{fallback}"


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        from ecomctl.text.fonts import load_font

        return load_font(size, 500)
    except (ImportError, OSError, EcomctlError):  # a preview: use Pillow's bundled font rather than fail
        return ImageFont.load_default(size)


def _thumb(img: Image.Image) -> Image.Image:
    img = img.copy()
    img.thumbnail((TILE, TILE), Image.LANCZOS)
    cell = Image.new("RGB", (TILE, TILE), (255, 255, 255))
    cell.paste(img, ((TILE - img.width) // 2, (TILE - img.height) // 2))
    return cell


def tile(entry: SheetEntry, font=None, small=None) -> Image.Image:
    """The small picture of one item on the sheet (made right away so a big catalog is not held in memory)."""
    font, small = font or _font(16), small or _font(13)
    tile = Image.new("RGB", (2 * TILE + 6, TILE + CAPTION), (255, 255, 255))
    if entry.subject is not None:
        tile.paste(_thumb(overlay(entry.subject)), (0, 0))
        tile.paste(_thumb(cutout_on_checker(entry.subject)), (TILE + 6, 0))
    else:
        ImageDraw.Draw(tile).rectangle((0, 0, 2 * TILE + 5, TILE - 1), fill=(250, 228, 228))
    draw = ImageDraw.Draw(tile)
    title, detail = entry.caption
    draw.text((4, TILE + 3), title, fill=(20, 20, 20), font=font)
    colour = (190, 30, 30) if entry.subject is None else (90, 90, 90)
    draw.text((4, TILE + 24), detail[:70], fill=colour, font=small)
    return tile


def contact_sheet(entries: list[SheetEntry], columns: int = 3, title: str = "") -> Image.Image:
    """One image for the whole catalog: per item the overlay, the cutout on a checkerboard and a caption."""
    font, small = _font(16), _font(13)
    return sheet_from_tiles([tile(e, font, small) for e in entries], columns, title)


def sheet_from_tiles(tiles: list[Image.Image], columns: int = 3, title: str = "") -> Image.Image:
    cols = max(1, min(columns, len(tiles) or 1))
    rows = max(1, -(-len(tiles) // cols))
    tw, th, gap, head = 2 * TILE + 6, TILE + CAPTION, 14, (34 if title else 0)
    sheet = Image.new("RGB", (cols * (tw + gap) + gap, rows * (th + gap) + gap + head), (236, 236, 240))
    if title:
        ImageDraw.Draw(sheet).text((gap, 8), title, fill=(20, 20, 20), font=_font(16))
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        sheet.paste(t, (gap + c * (tw + gap), head + gap + r * (th + gap)))
    return sheet
