"""QA across the variants of one SKU: palette distance (ΔE in Lab) and perceptual-hash near-duplicates."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import imagehash
import numpy as np

from ecomctl.qa.metrics import palette, palette_distance
from ecomctl.qa.thresholds import VariantThresholds
from ecomctl.types import Check, Poster


def scene_palette(poster: Poster) -> tuple[np.ndarray, np.ndarray]:
    """Dominant colours of the poster outside the product (the product is the same in every variant)."""
    rgb = np.asarray(poster.image.convert("RGB"))
    h, w = rgb.shape[:2]
    scale = 96 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(poster.subject_mask, size, interpolation=cv2.INTER_NEAREST) if poster.subject_mask.shape == (h, w) else None
    pixels = small.reshape(-1, 3) if mask is None or (mask <= 127).sum() < 16 else small[mask <= 127]
    return palette(pixels.reshape(-1, 1, 3))


def variant_checks(posters: Sequence[Poster], t: VariantThresholds) -> list[list[Check]]:
    """Per poster: its nearest sibling by palette ΔE (judged against siblings of another style) and by
    pHash distance (judged against all); nothing for a lone variant."""
    if not t.enabled or len(posters) < 2:
        return [[] for _ in posters]
    pals = [scene_palette(p) for p in posters]
    hashes = [imagehash.phash(p.image.convert("RGB")) for p in posters]
    out = []
    for i, p in enumerate(posters):
        others = [j for j in range(len(posters)) if j != i]
        de, j_de = min((palette_distance(pals[i], pals[j]), j) for j in others)
        hd, j_hd = min((int(hashes[i] - hashes[j]), j) for j in others)
        # a palette is only expected to differ from siblings drawn in another style (a pinned style is shared)
        styled = [(palette_distance(pals[i], pals[j]), j) for j in others if posters[j].style.name != p.style.name]
        de_bad = bool(styled) and min(styled)[0] < t.palette_delta_e
        if de_bad:
            de, j_de = min(styled)
        hd_bad = hd <= t.phash_distance
        out.append([
            Check("variants.palette_de", round(de, 2), t.status if de_bad else "pass",
                  f"palette too close to {posters[j_de].name} (ΔE {de:.1f} < {t.palette_delta_e})" if de_bad else ""),
            Check("variants.phash", float(hd), t.status if hd_bad else "pass",
                  f"near-duplicate of {posters[j_hd].name} (pHash distance {hd} ≤ {t.phash_distance})"
                  if hd_bad else ""),
        ])
    return out
