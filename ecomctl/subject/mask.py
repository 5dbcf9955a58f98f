"""Mask helpers shared by every extractor: bounding box, cleanup (holes, islands), feathered alpha, IoU."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ecomctl.errors import ExtractionError
from ecomctl.types import Box


@dataclass(frozen=True)
class Cleanup:
    """How a raw binary mask becomes the product mask; shared by classical and grounded-sam."""

    keep_ratio: float = 0.15  # keep components at least this fraction of the largest one (sets, pairs)
    min_area: float = 0.002  # drop islands smaller than this fraction of the image
    fill_holes: bool = True
    close_px: int = 2  # morphological closing radius before hole filling (bridges 1-2 px gaps)
    feather_px: float = 1.2  # soft edge width; 0 gives a hard 0/255 mask


def mask_bbox(mask: np.ndarray, thresh: int = 127) -> Box:
    ys, xs = np.nonzero(mask > thresh)
    if len(xs) == 0:
        raise ExtractionError("mask is empty")
    return Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def fill_holes(binary: np.ndarray) -> np.ndarray:
    """Fill every background region not connected to the image border."""
    bg = (~binary).astype(np.uint8)
    _, labels = cv2.connectedComponents(bg, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    return binary | (bg.astype(bool) & ~outside)


def keep_components(binary: np.ndarray, keep_ratio: float, min_area: float) -> np.ndarray:
    """Keep the largest component and any other at least `keep_ratio` of it and `min_area` of the image."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(binary, dtype=bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    floor = max(areas.max() * keep_ratio, min_area * binary.size)
    keep = np.flatnonzero(areas >= floor) + 1
    if len(keep) == 0:
        keep = np.array([int(areas.argmax()) + 1])
    return np.isin(labels, keep)


def disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def clean_mask(binary: np.ndarray, opts: Cleanup = Cleanup()) -> np.ndarray:
    """Raw boolean mask → tidy boolean mask: closed, islands dropped, main components kept, holes filled."""
    m = binary.astype(bool)
    if opts.close_px > 0:
        m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, disk(opts.close_px)).astype(bool)
    m = keep_components(m, opts.keep_ratio, opts.min_area)
    if opts.fill_holes:
        m = fill_holes(m)
    if not m.any():
        raise ExtractionError("mask is empty after cleanup")
    return m


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Grey-guide guided filter (He et al.): smooths `src` while following the edges of `guide`."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(guide), box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def feather(binary: np.ndarray, radius: float, image: Image.Image | None = None) -> np.ndarray:
    """Boolean mask → uint8 soft alpha. With an image, the edge follows it (guided filter); else a blur."""
    hard = binary.astype(np.float32)
    if radius <= 0:
        return (hard * 255).astype(np.uint8)
    soft = cv2.GaussianBlur(hard, (0, 0), radius)
    if image is not None:
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        guided = guided_filter(grey, hard, max(1, round(radius * 2)), 1e-3)
        # only let the guided result move the edge band; far from the edge keep the hard decision
        band = cv2.GaussianBlur(hard, (0, 0), radius * 2)
        near = (band > 0.02) & (band < 0.98)
        soft = np.where(near, 0.5 * soft + 0.5 * np.clip(guided, 0, 1), soft)
    return np.clip(soft * 255 + 0.5, 0, 255).astype(np.uint8)


def finish_mask(raw: np.ndarray, image: Image.Image | None, opts: Cleanup = Cleanup()) -> np.ndarray:
    """The shared tail of every mask-producing extractor: cleanup then a soft edge (uint8 HxW)."""
    return feather(clean_mask(raw, opts), opts.feather_px, image)


def decontaminate(image: Image.Image, mask: np.ndarray, radius: float = 6.0) -> Image.Image:
    """Remove the backdrop's colour from soft-edge pixels so a cutout shows no halo on a new background.

    The local backdrop colour B is the blurred average of nearby fully transparent pixels; each edge
    pixel I with alpha a is un-mixed to F = (I - (1 - a) B) / a. Pixels with alpha 0 or 255 are untouched.
    """
    a = mask.astype(np.float32) / 255.0
    edge = (a > 0.02) & (a < 0.98)
    if not edge.any():
        return image
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    clear = (a <= 0.02).astype(np.float32)
    weight = cv2.GaussianBlur(clear, (0, 0), radius)
    backdrop = cv2.GaussianBlur(rgb * clear[..., None], (0, 0), radius) / np.maximum(weight, 1e-4)[..., None]
    fg = (rgb - (1 - a)[..., None] * backdrop) / np.maximum(a, 0.25)[..., None]
    use = edge & (weight > 0.05)  # a known backdrop nearby; else leave the pixel as shot
    out = rgb.copy()
    out[use] = np.clip(fg[use], 0, 255)
    return Image.fromarray((out + 0.5).astype(np.uint8), "RGB")
