"""Neutral imaging helpers the engine, QA and the dataset builder all use: masks from boxes, grown masks and
OpenCV inpainting (text boxes and the subject of found posters, missing layers, campaign references)."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from PIL import Image

from ecomctl.types import Box

_FLAGS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def boxes_mask(size: tuple[int, int], boxes: Iterable[Box], grow: int = 3) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), np.uint8)
    for b in boxes:
        b = b.expand(grow)
        mask[max(0, b.y0):max(0, b.y1), max(0, b.x0):max(0, b.x1)] = 255
    return mask


def grow_mask(mask: np.ndarray, px: int) -> np.ndarray:
    binary = (mask > 127).astype(np.uint8) * 255
    if px <= 0:
        return binary
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(binary, kernel)


def inpaint(image: Image.Image, mask: np.ndarray, method: str = "telea", radius: int = 5) -> Image.Image:
    """Fill the masked (255) pixels from their surroundings, one connected region (+ margin) at a time.

    OpenCV's cost grows with the whole image, so small text boxes on a big poster are done in crops.
    """
    rgb = np.asarray(image.convert("RGB")).copy()
    n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    margin = 2 * radius + 2
    h, w = mask.shape
    for x, y, bw, bh, _area in stats[1:n]:
        x0, y0 = max(0, x - margin), max(0, y - margin)
        x1, y1 = min(w, x + bw + margin), min(h, y + bh + margin)
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])
        fill = cv2.inpaint(crop, np.ascontiguousarray(mask[y0:y1, x0:x1]), radius, _FLAGS[method])
        region = mask[y0:y1, x0:x1] > 0
        rgb[y0:y1, x0:x1][region] = fill[:, :, ::-1][region]
    return Image.fromarray(rgb, "RGB")
