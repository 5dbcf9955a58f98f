"""`studio` step of the auto chain: a photo on a plain studio backdrop → the classical mask, when trusted.

Why: the learned saliency extractor costs two network passes (plus OCR for its copy filter) per photo,
while the classical backdrop model + GrabCut was made for exactly these shots. The step decides cheaply
before any segmentation whether the frame is a plain backdrop (`backdrop_share` at 256 px, the evidence
the classical confidence already uses), runs classical only then, and keeps its mask only when the mask
confidence is high; anything else raises ExtractionError with the reason, so the chain goes on to
saliency as before and the Subject's note says why. The mask it returns is classical's (`method` says
`classical`); the note records that the studio step accepted it.

Off by default (`subject.studio_fast_path: false`): it answers every studio photo of the fixture set and
no scene or poster, and cuts CPU per studio photo by a third to a half, but classical's mask is below
saliency's (IoU mean / min 0.987 / 0.972 vs 0.994 / 0.992 on the generated packshots, 0.992 / 0.986 vs
0.994 / 0.990 on the committed studio JPEGs; benchmarks/results/extract_methods_cpu.json) while its
confidence is 1.0 on all of them, so no confidence gate keeps saliency's quality. Turn it on for catalogs
where a ~1–2 px looser edge is acceptable and the CPU matters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from PIL import Image

from ecomctl.config import check_keys
from ecomctl.errors import ConfigError, ExtractionError
from ecomctl.types import Subject


@dataclass(frozen=True)
class StudioSettings:
    min_backdrop: float = 0.99  # frame share matching the backdrop model (studio ≥ 0.997, scenes ≤ 0.82)
    min_confidence: float = 0.9  # classical's mask confidence under which saliency answers instead

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> StudioSettings:
        check_keys("subject.studio", settings, {f.name for f in fields(cls)})
        out = cls(**settings)
        if not (0 < out.min_backdrop <= 1 and 0 <= out.min_confidence <= 1):
            raise ConfigError("subject.studio: min_backdrop must be in (0, 1] and min_confidence in [0, 1]")
        return out


class StudioStep:
    """Chain step (not a `--method`): classical on a plain backdrop, or an ExtractionError saying why not."""

    name = "studio"

    def __init__(self, settings: dict[str, Any], classical: dict[str, Any] | None = None):
        self.settings = StudioSettings.from_dict(dict(settings))
        self.classical_settings = dict(classical or {})

    def unavailable(self) -> str | None:
        return None

    def extract(self, image: Image.Image, prompt: str = "") -> Subject:
        import dataclasses

        from ecomctl.subject import get_extractor
        from ecomctl.subject.confidence import Evidence, backdrop_share, score_mask

        s = self.settings
        share = backdrop_share(image)
        if share < s.min_backdrop:
            raise ExtractionError(f"frame is not a plain backdrop ({share:.1%} matches, need {s.min_backdrop:.0%})")
        subject = get_extractor("classical", self.classical_settings).extract(image, prompt)
        # the same confidence assess_mask gives a classical mask, without measuring the backdrop twice
        conf = score_mask(subject.mask, Evidence(backdrop_share=share))
        if conf.value < s.min_confidence:
            raise ExtractionError(f"classical mask confidence {conf.value:.2f} < {s.min_confidence:.2f}"
                                  + (f" ({conf.why})" if conf.why else ""))
        return dataclasses.replace(
            subject, confidence=conf.value, confidence_why=conf.why or None,
            note=f"studio: plain backdrop ({share:.1%} of the frame), classical confidence {conf.value:.2f}")


def studio_step(section: dict[str, Any]) -> StudioStep | None:
    """The step for this `subject:` section, or None when `studio_fast_path` is off (the old chain)."""
    on = section.get("studio_fast_path", False)
    if not isinstance(on, bool):
        raise ConfigError(f"subject.studio_fast_path: {on!r} is not true or false")
    studio = section.get("studio") or {}
    if not isinstance(studio, dict):
        raise ConfigError("subject.studio: must be a mapping (min_backdrop, min_confidence)")
    step = StudioStep(studio, section.get("classical"))  # settings are checked even when off
    return step if on else None
