"""`studio` step of the auto chain: a photo on a plain studio backdrop → saliency's mask for one network pass.

Why: the learned saliency extractor runs its network twice per photo (the whole photo to find the product,
then a zoomed crop for the edges) and OCR for its copy filter when it finds several pieces. On a plain
studio backdrop the first pass is not needed: the backdrop colour model (`confidence.backdrop_fit`, at
256 px; the evidence the classical confidence already uses) says where the product is. The step checks
cheaply whether the frame is a plain backdrop (`min_backdrop` of its border fits the model; scenes and
posters fit ≤ 0.82), turns the backdrop distance into a saliency-like seed (`seed_map`) and runs saliency
with it in place of the first pass and its piece selection (no out-of-focus clutter or copy to drop on a
plain backdrop; on the fixtures that selection split a pair of products): the zoomed pass, the guided-filter
edge snap and the same confidence (which compares the seed's region with the zoomed pass: a seed the network does not
confirm is turned down). The crop margin is wider than saliency's own (`zoom_pad` 0.3 vs 0.15): with no
first pass to keep a backdrop-coloured part (a white lid's inside on white), the crop must show enough
of the frame for the network to see it. Anything short raises ExtractionError with the reason, so the
chain goes on to full saliency and the note says why. The mask's `method` is `saliency`; its note says
"studio: plain backdrop (…), seeded zoom pass".

On by default (`subject.studio_fast_path: true`): on the fixture set (benchmarks/results/extract_methods_cpu.json)
it answers 18/18 studio photos and no scene or poster, keeps saliency's IoU (mean / min: packshots 0.9941 /
0.9917 → 0.9935 / 0.9889, committed JPEGs 0.9943 / 0.9901 → 0.9943 / 0.9909) at 1.05 instead of 1.85 CPU-s
per photo. `subject.studio.mask: classical` answers with the classical mask instead (no cheaper here, looser
edges: 0.987 / 0.972 on the packshots). Not covered: copy printed on the backdrop itself (saliency's OCR
copy filter does not run on this path; pieces under 15 % of the product are dropped by the cleanup).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ecomctl.config import check_keys
from ecomctl.errors import ConfigError, ExtractionError
from ecomctl.subject.mask import Cleanup, clean_mask, fill_holes
from ecomctl.types import Subject


@dataclass(frozen=True)
class StudioSettings:
    mask: str = "saliency"  # saliency: one zoomed pass seeded by the backdrop model | classical: GrabCut mask
    zoom_pad: float = 0.3  # mask saliency: crop margin of the seeded pass (saliency's own first pass: 0.15)
    min_backdrop: float = 0.99  # frame share matching the backdrop model (studio ≥ 0.997, scenes ≤ 0.82)
    min_confidence: float = 0.9  # the mask's confidence under which full saliency answers instead

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> StudioSettings:
        check_keys("subject.studio", settings, {f.name for f in fields(cls)})
        out = cls(**settings)
        if out.mask not in ("saliency", "classical"):
            raise ConfigError(f"subject.studio.mask: {out.mask!r} is not saliency or classical")
        if not (0 < out.min_backdrop <= 1 and 0 <= out.min_confidence <= 1 and 0 <= out.zoom_pad <= 2):
            raise ConfigError("subject.studio: min_backdrop must be in (0, 1], min_confidence in [0, 1] and "
                              "zoom_pad in [0, 2]")
        return out


class StudioStep:
    """Chain step (not a `--method`): a cheaper mask on a plain backdrop, or an ExtractionError saying why not."""

    name = "studio"

    def __init__(self, section: dict[str, Any]):
        self.settings = StudioSettings.from_dict(dict(section.get("studio") or {}))
        self.section = section

    def unavailable(self) -> str | None:
        return None

    def extract(self, image: Image.Image, prompt: str = "") -> Subject:
        from ecomctl.subject.confidence import backdrop_fit

        s = self.settings
        share, dist, noise = backdrop_fit(image)
        if share < s.min_backdrop:
            raise ExtractionError(f"frame is not a plain backdrop ({share:.1%} matches, need {s.min_backdrop:.0%})")
        if s.mask == "classical":
            subject, how = self._classical(image, prompt, share), "classical"
        else:
            subject, how = self._seeded(image, prompt, dist, noise), "seeded zoom pass"
        if subject.confidence < s.min_confidence:
            raise ExtractionError(f"{subject.method} mask confidence {subject.confidence:.2f} < {s.min_confidence:.2f}"
                                  + (f" ({subject.confidence_why})" if subject.confidence_why else ""))
        note = f"studio: plain backdrop ({share:.1%} of the frame), {how}, confidence {subject.confidence:.2f}"
        return dataclasses.replace(subject, note=note)

    def _classical(self, image: Image.Image, prompt: str, share: float) -> Subject:
        from ecomctl.subject import get_extractor
        from ecomctl.subject.confidence import Evidence, score_mask

        subject = get_extractor("classical", self.section.get("classical")).extract(image, prompt)
        # the same confidence assess_mask gives a classical mask, without measuring the backdrop twice
        conf = score_mask(subject.mask, Evidence(backdrop_share=share))
        return dataclasses.replace(subject, confidence=conf.value, confidence_why=conf.why or None)

    def _seeded(self, image: Image.Image, prompt: str, dist: np.ndarray, noise: float) -> Subject:
        """Saliency's zoomed pass, with the backdrop model's product region in place of its whole-photo pass."""
        from ecomctl.subject import get_extractor

        ex = get_extractor("saliency", {**(self.section.get("saliency") or {}), "zoom_pad": self.settings.zoom_pad})
        why = ex.unavailable()
        if why or ex.settings.refine != "zoom":
            raise ExtractionError(why or "a seeded pass needs subject.saliency.refine: zoom")
        region = (ex.settings.threshold + ex.settings.core) / 2 if ex.settings.core > ex.settings.threshold else 1.0
        small = seed_map(dist, noise, region)
        if not small.any():
            raise ExtractionError("nothing stands out from the backdrop")
        seed = cv2.resize(small, image.size, interpolation=cv2.INTER_LINEAR)
        subject = ex.extract(image, prompt, seed=seed)
        return dataclasses.replace(subject, confidence_why=subject.confidence_why or None)


def seed_map(dist: np.ndarray, noise: float, region: float) -> np.ndarray:
    """Where the product is by the backdrop model, as a saliency-like map: `region` (over saliency's split,
    under its core level) on everything that stands out from the backdrop, 1.0 where the colour is clearly
    not backdrop (halfway to classical's sure-product distance) and inside the product's outline (a white
    label on white paper). So the zoomed pass crops and searches the whole region, but only the clear parts
    are kept as product whatever it says; faint backdrop texture is left to the network."""
    t_bg = max(3.0, 2.5 * noise)
    t_fg = max(4 * t_bg, 40.0)
    rough = clean_mask(dist > t_bg, Cleanup(keep_ratio=0.02, min_area=0.0005, close_px=3))
    filled = fill_holes(rough)
    seed = np.where(filled, region, 0.0)
    seed[(filled & (dist > (t_bg + t_fg) / 2)) | (filled & ~rough)] = 1.0
    return seed.astype(np.float32)


def studio_step(section: dict[str, Any]) -> StudioStep | None:
    """The step for this `subject:` section, or None when `studio_fast_path` is off (the old chain)."""
    on = section.get("studio_fast_path", False)
    if not isinstance(on, bool):
        raise ConfigError(f"subject.studio_fast_path: {on!r} is not true or false")
    if not isinstance(section.get("studio") or {}, dict):
        raise ConfigError("subject.studio: must be a mapping (mask, zoom_pad, min_backdrop, min_confidence)")
    step = StudioStep(section)  # settings are checked even when off
    return step if on else None
