"""Subject extraction stage: source photo → product mask + confidence (alpha → grounded-sam → studio (plain
backdrop: seeded saliency) → saliency → classical chain)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

from PIL import Image

from ecomctl.errors import BackendUnavailable, ExtractionError
from ecomctl.registry import Registry, import_builtin
from ecomctl.types import Box, Subject


class Extractor(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """None when usable now; otherwise one line saying why not (missing extra / weights)."""

    def extract(self, image: Image.Image, prompt: str) -> Subject:
        """Mask the product in `image` (any mode). Raise ExtractionError when nothing is found."""


# name → factory(settings dict for that extractor, taken from config `subject.<name>`)
EXTRACTORS: Registry[Callable[[dict[str, Any]], Extractor]] = Registry("subject extractor")
# `studio` is a step, not an extractor: one seeded saliency pass on a plain backdrop (subject.studio_fast_path)
AUTO_CHAIN = ("alpha", "grounded-sam", "studio", "saliency", "classical")
_CACHE: dict[tuple[str, str], Extractor] = {}


def get_extractor(name: str, settings: dict[str, Any] | None = None) -> Extractor:
    """One extractor instance per process and settings (models load once per worker)."""
    _load_builtins()
    factory = EXTRACTORS.get(name)
    key = (name, repr(sorted((settings or {}).items())))
    if key not in _CACHE:
        _CACHE[key] = factory(settings or {})
    return _CACHE[key]


def check_settings(section: dict[str, Any]) -> None:
    """Validate every extractor's sub-section of `subject:` (e.g. `grounded-sam:`) once, before any SKU:
    building an extractor checks its settings and loads nothing (models load on first use)."""
    _load_builtins()
    from ecomctl.subject.studio import studio_step

    studio_step(section)  # subject.studio_fast_path / subject.studio
    for name, settings in section.items():
        if isinstance(settings, dict) and name in EXTRACTORS:
            get_extractor(name, settings)


def extract_subject(
    image: Image.Image, prompt: str, method: str = "auto", settings: dict[str, Any] | None = None,
    text_boxes: list[Box] | None = None,
) -> Subject:
    """Run one extractor, or the auto chain. The returned Subject's `note` says why a fallback happened.

    `text_boxes`: where copy is known to be (a found poster's OCR lines); extractors that can use it keep
    copy out of the product mask without reading the image again."""
    out = extract_subjects([image], [prompt], method, settings, None if text_boxes is None else [text_boxes])[0]
    if isinstance(out, ExtractionError):
        raise out
    return out


def usable_extractor(method: str, settings: dict[str, Any] | None = None) -> Extractor:
    """The named extractor, or BackendUnavailable saying why it cannot run here (checked up front)."""
    ex = get_extractor(method, (settings or {}).get(method))
    why = ex.unavailable()
    if why:
        raise BackendUnavailable(f"subject extractor {method!r} unavailable: {why}")
    return ex


def extract_subjects(
    images: list[Image.Image], prompts: list[str], method: str = "auto", settings: dict[str, Any] | None = None,
    text_boxes: list[list[Box]] | None = None,
) -> list[Subject | ExtractionError]:
    """Batched form: one Subject or ExtractionError per image (extractors with `extract_many` batch)."""
    settings = settings or {}
    boxes = text_boxes or [None] * len(images)
    if method != "auto":
        outs = _run_many(usable_extractor(method, settings), images, prompts, boxes)
        return [o if isinstance(o, ExtractionError) else assess(o, im) for o, im in zip(outs, images)]
    results: list[Subject | ExtractionError | None] = [None] * len(images)
    notes: list[list[str]] = [[] for _ in images]
    for name in AUTO_CHAIN:
        pending = [i for i, r in enumerate(results) if r is None]
        ex = _chain_step(name, settings) if pending else None
        if ex is None:
            continue
        why = ex.unavailable()
        todo = [] if why else pending
        if name == "alpha" and not why:
            todo = [i for i in pending if has_useful_alpha(images[i])]
        for i in set(pending) - set(todo):
            notes[i].append(f"{name}: {why or 'image has no transparency'}")
        try:
            outs = _run_many(ex, [images[i] for i in todo], [prompts[i] for i in todo],
                             [boxes[i] for i in todo]) if todo else []
        except BackendUnavailable as e:  # e.g. weights present but unloadable: fall back, say why
            outs = [ExtractionError(str(e))] * len(todo)
        for i, out in zip(todo, outs):
            if isinstance(out, ExtractionError):
                notes[i].append(f"{name}: {out}")
            else:
                note = "; ".join(notes[i] + ([out.note] if out.note else [])) or None  # a step's own word last
                results[i] = assess(dataclasses.replace(out, note=note), images[i])
    return [r if r is not None else ExtractionError("no extractor found the product (" + "; ".join(n) + ")")
            for r, n in zip(results, notes)]


def _chain_step(name: str, settings: dict[str, Any]) -> Extractor | None:
    """The chain's extractor for `name`, or None when it is not part of this chain here."""
    if name == "studio":
        from ecomctl.subject.studio import studio_step

        return studio_step(settings)  # None when subject.studio_fast_path is off: the chain before the step
    if name not in EXTRACTORS and name != "alpha":
        return None  # e.g. grounded-sam whose module could not be imported
    return get_extractor(name, settings.get(name))


def _run_many(ex: Extractor, images: list[Image.Image], prompts: list[str],
              boxes: list[list[Box] | None]) -> list[Subject | ExtractionError]:
    many = getattr(ex, "extract_many", None)
    if many is not None:
        return many(images, prompts)
    out: list[Subject | ExtractionError] = []
    for image, prompt, known in zip(images, prompts, boxes):
        try:
            takes_text = known is not None and getattr(ex, "takes_text_boxes", False)
            out.append(ex.extract(image, prompt, text=known) if takes_text else ex.extract(image, prompt))
        except ExtractionError as e:
            out.append(e)
    return out


def assess(subject: Subject, image: Image.Image) -> Subject:
    """The subject with a confidence: the extractor's own, or one measured here from its mask."""
    if subject.confidence is not None:
        return subject
    from ecomctl.subject.confidence import assess_mask

    conf = assess_mask(subject.mask, subject.method, image)
    return dataclasses.replace(subject, confidence=conf.value, confidence_why=conf.why or None)


def has_useful_alpha(image: Image.Image) -> bool:
    """True when the image carries real transparency (some pixels clearly transparent)."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return False
    alpha = image.convert("RGBA").getchannel("A")
    lo, hi = alpha.getextrema()
    if lo > 10 or hi < 128:
        return False
    hist = alpha.histogram()
    transparent = sum(hist[:16]) / (image.width * image.height)
    return 0.02 <= transparent <= 0.98


def _load_builtins() -> None:
    # importing registers; grounded_sam's heavy packages are imported inside it lazily, so only a missing
    # optional extra may hide it (an error in its own code is one line naming the file, as for backends)
    from ecomctl.subject import alpha, classical, saliency  # noqa: F401

    why = import_builtin("ecomctl.subject.grounded_sam", "subject extractor 'grounded-sam'")
    if why is not None:
        EXTRACTORS.hide("grounded-sam", why)
