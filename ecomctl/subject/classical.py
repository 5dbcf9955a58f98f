"""`classical` extractor: photo without transparency → product mask, no weights (background model + GrabCut).

How: learn the background from the image border as a smooth colour field (handles plain, tinted and
gradient "sweep" backdrops), measure every pixel's distance to it with a shadow-tolerant metric (a
pixel that is the background colour only darker counts as background, so soft drop shadows are not
product), seed GrabCut with that trimap, then the shared cleanup (holes, islands, feathered edge).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ecomctl.config import check_keys
from ecomctl.errors import ExtractionError
from ecomctl.subject import EXTRACTORS
from ecomctl.subject.mask import Cleanup, clean_mask, decontaminate, disk, fill_holes, finish_mask, mask_bbox
from ecomctl.types import Subject


@dataclass(frozen=True)
class ClassicalSettings:
    work_side: int = 720  # GrabCut runs at this longest side; the mask is upsampled and edge-refined
    border: float = 0.02  # width of the border strip that teaches the background, fraction of the short side
    shadow_floor: float = 0.6  # a pixel down to this fraction of the background's brightness may be shadow
    min_threshold: float = 3.0  # distance (0..441) under which a pixel is background, at least
    smooth_sigma: float = 1.0  # Gaussian denoise before measuring distances (0 = off)
    iterations: int = 4  # GrabCut iterations
    band_px: int = 12  # trimap band around the rough mask where GrabCut decides, at work scale
    feather_px: float = 1.2

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> ClassicalSettings:
        check_keys("subject.classical", settings, {f.name for f in fields(cls)})
        return cls(**settings)


def flatten(image: Image.Image, matte: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB view of any image; transparency is blended over `matte` (never the RGB hidden under alpha=0)."""
    if has_alpha(image):
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*matte, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return image.convert("RGB")


MATTES = ((250, 250, 250), (128, 128, 128), (16, 16, 16), (0, 170, 80), (200, 0, 200))


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info


def best_matte(image: Image.Image) -> tuple[int, int, int]:
    """For a transparent input: the backdrop colour farthest from the product's own colours.

    (A white can flattened over white would have no edge left to find.)
    """
    rgba = np.asarray(image.convert("RGBA"))
    opaque = rgba[rgba[..., 3] > 200][:, :3].astype(np.float32)
    if len(opaque) == 0:
        return MATTES[0]
    opaque = opaque[:: max(1, len(opaque) // 20000)]
    gaps = [np.percentile(np.linalg.norm(opaque - np.array(m, np.float32), axis=1), 5) for m in MATTES]
    return MATTES[int(np.argmax(gaps))]


def border_mask(h: int, w: int, width: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[:width], m[-width:], m[:, :width], m[:, -width:] = True, True, True, True
    return m


def _design(h: int, w: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Quadratic surface basis in normalised coordinates."""
    y, x = ys / max(h - 1, 1) - 0.5, xs / max(w - 1, 1) - 0.5
    return np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], axis=1)


def fit_background(rgb: np.ndarray, strip: np.ndarray, shadow_floor: float) -> tuple[np.ndarray, float]:
    """Smooth backdrop colour field fitted to the border strip → (HxWx3 field, noise level).

    The fit is driven to the upper envelope of the backdrop: border pixels darker than the current
    fit (a shadow reaching the frame) and outliers (a product touching the edge) are dropped and the
    surface refitted until it settles. Darker-than-fit backdrop is harmless downstream (the distance
    tolerates shadow), brighter-than-fit backdrop would read as product. The noise level is the 95th
    percentile of that distance over the border pixels that are backdrop.
    """
    h, w, _ = rgb.shape
    ys, xs = np.nonzero(strip)
    a = _design(h, w, ys.astype(np.float32), xs.astype(np.float32))
    vals = rgb[ys, xs].astype(np.float32)
    fine = np.abs(rgb - cv2.GaussianBlur(rgb, (0, 0), 2.0))[ys, xs].mean(axis=1)
    tol = 3 * 1.4826 * float(np.median(fine)) + 1.5  # pixel noise, independent of any fit
    keep = np.ones(len(vals), bool)
    for _ in range(8):
        coef, *_ = np.linalg.lstsq(a[keep], vals[keep], rcond=None)
        diff = vals - a @ coef
        lum = diff.mean(axis=1)
        chroma = np.linalg.norm(diff - lum[:, None], axis=1)
        backdrop = (chroma < 3 * tol + 4) & (lum < 3 * tol + 6)  # not a product touching the frame
        new = backdrop & (lum > -tol)
        if new.sum() < 0.1 * len(vals) or np.array_equal(new, keep):
            break
        keep = new
    dist = background_distance(vals, a @ coef, shadow_floor)
    noise = float(np.percentile(dist[backdrop], 95)) if backdrop.any() else tol
    gy, gx = np.mgrid[0:h, 0:w]
    field = (_design(h, w, gy.ravel().astype(np.float32), gx.ravel().astype(np.float32)) @ coef).reshape(h, w, 3)
    return np.clip(field, 0, 255), noise


def background_distance(rgb: np.ndarray, bg: np.ndarray, shadow_floor: float) -> np.ndarray:
    """Distance to the background colour, allowing it to be darkened (shadow) down to `shadow_floor`."""
    img = rgb.astype(np.float32)
    k = (img * bg).sum(-1) / np.maximum((bg * bg).sum(-1), 1.0)
    k = np.clip(k, shadow_floor, 1.0)[..., None]
    return np.linalg.norm(img - k * bg, axis=-1)


class ClassicalExtractor:
    name = "classical"

    def __init__(self, settings: dict[str, Any]):
        self.settings = ClassicalSettings.from_dict(dict(settings))
        self.cleanup = Cleanup(feather_px=self.settings.feather_px)

    def unavailable(self) -> str | None:
        return None

    def extract(self, image: Image.Image, prompt: str = "") -> Subject:
        photo = flatten(image)
        # a transparent input is segmented over the backdrop that contrasts most with the product
        seen = flatten(image, best_matte(image)) if has_alpha(image) else photo
        mask = finish_mask(self.segment(np.asarray(seen)), seen, self.cleanup)
        return Subject(decontaminate(photo, mask), mask, mask_bbox(mask), self.name)

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        """Full-resolution boolean product mask (before feathering)."""
        h, w, _ = rgb.shape
        scale = min(1.0, self.settings.work_side / max(h, w))
        small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        cut = self._grabcut(small)
        if scale == 1.0:
            return cut
        up = cv2.resize(cut.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        return up > 0.5

    def _grabcut(self, rgb: np.ndarray) -> np.ndarray:
        s = self.settings
        h, w, _ = rgb.shape
        strip = border_mask(h, w, max(2, round(min(h, w) * s.border)))
        # distances are measured on a lightly smoothed copy: sensor/JPEG noise would otherwise set
        # the threshold above the faint edge of a light product on a light backdrop
        smooth = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), s.smooth_sigma) if s.smooth_sigma else rgb
        bg, noise = fit_background(smooth, strip, s.shadow_floor)
        dist = background_distance(smooth, bg, s.shadow_floor)
        t_bg = max(s.min_threshold, 2.5 * noise)
        t_fg = max(4 * t_bg, 40.0)
        rough = dist > t_bg
        if rough.sum() < 0.001 * rough.size:
            raise ExtractionError("nothing stands out from the background")
        rough = clean_mask(rough, Cleanup(keep_ratio=0.02, min_area=0.0005, close_px=3))
        trimap = self._trimap(rough, dist > t_fg, strip & ~(dist > t_bg))
        if s.iterations > 0:
            self._run_grabcut(rgb, trimap)
        out = (trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)
        # GrabCut's colour model cannot keep product areas that match the backdrop (a white can on
        # white): the rough mask's enclosed interior stays product
        return fill_holes(out | cv2.erode(rough.astype(np.uint8), disk(s.band_px)).astype(bool))

    def _run_grabcut(self, rgb: np.ndarray, trimap: np.ndarray) -> None:
        """GrabCut in place on the trimap (whole frame: its backdrop colour model needs all of it)."""
        if not np.isin(trimap, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
            return
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        # GrabCut seeds its k-means from OpenCV's global RNG, whose state depends on whatever ran
        # before in this thread: reseed so the same photo always gives the same mask
        cv2.setRNGSeed(0x5EED)
        cv2.grabCut(np.ascontiguousarray(rgb[..., ::-1]), trimap, None, bgd, fgd, self.settings.iterations,
                    cv2.GC_INIT_WITH_MASK)

    def _trimap(self, rough: np.ndarray, strong: np.ndarray, sure_bg: np.ndarray) -> np.ndarray:
        band = disk(self.settings.band_px)
        outer = cv2.dilate(rough.astype(np.uint8), band).astype(bool)
        trimap = np.full(rough.shape, cv2.GC_BGD, np.uint8)
        trimap[outer] = cv2.GC_PR_BGD
        trimap[rough] = cv2.GC_PR_FGD
        core = cv2.erode(rough.astype(np.uint8), disk(3)).astype(bool) & strong
        trimap[core] = cv2.GC_FGD
        trimap[sure_bg] = cv2.GC_BGD
        return trimap


EXTRACTORS.add("classical", ClassicalExtractor)
