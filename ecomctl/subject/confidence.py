"""Mask confidence: how far a product mask can be trusted (0..1 + the reasons), for QA and the dataset builder.

Every factor is a ramp from 1 (looks like a product mask) to 0 (looks like a wrong one); the confidence
is the lowest factor, so one clear sign of failure is enough and the reason names it. Factors:

- area: the mask covers between ~1 % and ~85 % of the photo (tiny specks and "everything" are failures);
- border: share of the photo's frame the mask runs along (a product may stand on the bottom edge or be
  cropped on one side; a mask hugging most of the frame is the ground or the backdrop);
- fragments: significant separate pieces (sets of 2–3 are normal, a scatter of 6 is noise);
- margin (saliency): share of the mask's surroundings where the network's map is undecided;
- agreement: IoU between this mask and an independent one (the network's own thresholded map before
  refinement, or another extractor's mask) — two methods agreeing is the strongest evidence;
- backdrop (classical): share of the frame that matches the fitted backdrop colour model; classical
  extraction assumes a studio backdrop and is not to be trusted on a scene.

The ramps were set from the fixture set (benchmarks/bench_extract.py): correct masks score ≥ 0.8 on
packshots, scenes and posters, the wrong masks the classical extractor returns on scenes score < 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Evidence:
    """What an extractor knows besides its final mask (all optional)."""

    prob: np.ndarray | None = None  # saliency map 0..1 at mask size
    raw: np.ndarray | None = None  # an independent boolean mask to agree with (e.g. map > 0.5)
    second: np.ndarray | None = None  # the other opinion compared with `raw` (default: the final mask)
    fragments_of: np.ndarray | None = None  # the mask before island removal (counts pieces)
    backdrop_share: float | None = None  # classical: frame share matching the backdrop model


@dataclass(frozen=True)
class Confidence:
    value: float
    why: str  # the weakest factors, "" when all look fine
    factors: dict[str, float] = field(default_factory=dict)


def ramp(x: float, bad: float, good: float) -> float:
    """1 at `good`, 0 at `bad`, linear between (either direction)."""
    if good == bad:
        return 1.0
    return float(np.clip((x - bad) / (good - bad), 0.0, 1.0))


def border_share(mask: np.ndarray) -> float:
    """Share of the frame's pixels (one-pixel ring) the mask covers."""
    ring = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(ring.mean())


def fragments(mask: np.ndarray, min_share: float = 0.05) -> int:
    """Pieces at least `min_share` of the largest piece (specks ignored)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    return int((areas >= min_share * areas.max()).sum())


def undecided(prob: np.ndarray, mask: np.ndarray) -> float:
    """Share of the mask (grown by 5 % of its size) where the map sits between 0.2 and 0.8."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 1.0
    r = max(2, round(0.05 * max(xs.max() - xs.min(), ys.max() - ys.min())))
    near = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)) > 0
    p = prob[near]
    return float(((p > 0.2) & (p < 0.8)).mean())


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union


def score_mask(mask: np.ndarray, ev: Evidence = Evidence()) -> Confidence:
    """Confidence of a boolean (or 0..255) product mask given what the extractor knows."""
    m = mask > 127 if mask.dtype == np.uint8 else mask.astype(bool)
    f: dict[str, float] = {}
    area = float(m.mean())
    f["area"] = min(ramp(area, 0.002, 0.01), ramp(area, 0.97, 0.85))
    f["border"] = ramp(border_share(m), 0.6, 0.3)
    pieces = fragments(ev.fragments_of if ev.fragments_of is not None else m)
    f["fragments"] = ramp(pieces, 7, 3)
    if ev.prob is not None:
        f["margin"] = ramp(undecided(ev.prob, m), 0.5, 0.2)
    if ev.raw is not None:
        f["agreement"] = ramp(_agree(m, ev), 0.5, 0.85)
    if ev.backdrop_share is not None:
        f["backdrop"] = ramp(ev.backdrop_share, 0.8, 0.97)
    value = min(f.values())
    weak = sorted((v, k) for k, v in f.items() if v < 0.8)
    why = "; ".join(_reason(k, m, ev, pieces) for _, k in weak)
    return Confidence(round(value, 3), why, {k: round(v, 3) for k, v in f.items()})


def _agree(m: np.ndarray, ev: Evidence) -> float:
    other = ev.second if ev.second is not None else m
    return agreement(other.astype(bool), ev.raw.astype(bool))  # type: ignore[union-attr]


def _reason(name: str, m: np.ndarray, ev: Evidence, pieces: int) -> str:
    if name == "area":
        return f"mask covers {m.mean():.1%} of the photo"
    if name == "border":
        return f"mask runs along {border_share(m):.0%} of the frame"
    if name == "fragments":
        return f"mask is in {pieces} pieces"
    if name == "margin":
        return f"saliency undecided on {undecided(ev.prob, m):.0%} around the mask"  # type: ignore[arg-type]
    if name == "agreement":
        return f"methods agree on only {_agree(m, ev):.0%} (IoU)"
    return f"only {ev.backdrop_share:.0%} of the frame looks like a studio backdrop"


def backdrop_share(image: Image.Image, side: int = 256) -> float:
    """Share of the frame matching a smooth backdrop colour model (1.0 on a studio sweep, low on a scene)."""
    return backdrop_fit(image, side)[0]


def backdrop_fit(image: Image.Image, side: int = 256) -> tuple[float, np.ndarray, float]:
    """The backdrop colour model fitted to the frame at `side` px → (frame share matching it, distance of
    every pixel to it at that size, the backdrop's noise level)."""
    from ecomctl.subject.classical import background_distance, border_mask, fit_background, flatten

    rgb = np.asarray(flatten(image).convert("RGB"), np.float32)
    h, w = rgb.shape[:2]
    k = min(1.0, side / max(h, w))
    if k < 1.0:
        rgb = cv2.resize(rgb, (max(8, round(w * k)), max(8, round(h * k))), interpolation=cv2.INTER_AREA)
    strip = border_mask(rgb.shape[0], rgb.shape[1], max(2, round(0.02 * min(rgb.shape[:2]))))
    bg, noise = fit_background(rgb, strip, 0.6)
    dist = background_distance(rgb, bg, 0.6)
    # studio frames: ≥ 0.99 (noise ≤ 4); blurred scenes: ≤ 0.85
    return float((dist[strip] <= 10.0).mean()), dist, noise


def assess_mask(mask: np.ndarray, method: str, image: Image.Image) -> Confidence:
    """Confidence for extractors that report none of their own: geometry, plus the backdrop test for
    classical (its whole premise); a mask from the photo's own alpha is the user's and is trusted."""
    if method == "alpha":
        return Confidence(1.0, "", {})
    share = backdrop_share(image) if method == "classical" else None
    return score_mask(mask, Evidence(backdrop_share=share))
