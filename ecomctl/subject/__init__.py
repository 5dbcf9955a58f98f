"""Subject extraction stage: source photo → product mask (alpha → grounded-sam → classical chain)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PIL import Image

from ecomctl.errors import BackendUnavailable, ExtractionError
from ecomctl.registry import Registry
from ecomctl.types import Subject


class Extractor(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """None when usable now; otherwise one line saying why not (missing extra / weights)."""

    def extract(self, image: Image.Image, prompt: str) -> Subject:
        """Mask the product in `image` (any mode). Raise ExtractionError when nothing is found."""


# name → factory(settings dict for that extractor, taken from config `subject.<name>`)
EXTRACTORS: Registry[Callable[[dict[str, Any]], Extractor]] = Registry("subject extractor")
AUTO_CHAIN = ("alpha", "grounded-sam", "classical")
_CACHE: dict[tuple[str, str], Extractor] = {}


def get_extractor(name: str, settings: dict[str, Any] | None = None) -> Extractor:
    """One extractor instance per process and settings (models load once per worker)."""
    _load_builtins()
    factory = EXTRACTORS.get(name)
    key = (name, repr(sorted((settings or {}).items())))
    if key not in _CACHE:
        _CACHE[key] = factory(settings or {})
    return _CACHE[key]


def extract_subject(
    image: Image.Image, prompt: str, method: str = "auto", settings: dict[str, Any] | None = None
) -> Subject:
    """Run one extractor, or the auto chain. The returned Subject's `note` says why a fallback happened."""
    settings = settings or {}
    if method != "auto":
        ex = get_extractor(method, settings.get(method))
        why = ex.unavailable()
        if why:
            raise BackendUnavailable(f"subject extractor {method!r} unavailable: {why}")
        return ex.extract(image, prompt)
    notes: list[str] = []
    for name in AUTO_CHAIN:
        if name not in EXTRACTORS and name != "alpha":
            continue
        ex = get_extractor(name, settings.get(name))
        why = ex.unavailable()
        if why is None and name == "alpha" and not has_useful_alpha(image):
            why = "image has no transparency"
        if why:
            notes.append(f"{name}: {why}")
            continue
        try:
            subject = ex.extract(image, prompt)
        except ExtractionError as e:
            notes.append(f"{name}: {e}")
            continue
        note = "; ".join(notes) or None
        return Subject(subject.image, subject.mask, subject.bbox, subject.method, note)
    raise ExtractionError("no extractor found the product (" + "; ".join(notes) + ")")


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
    # importing registers; grounded_sam is optional (heavy deps are imported inside it lazily)
    from ecomctl.subject import alpha, classical  # noqa: F401

    try:
        from ecomctl.subject import grounded_sam  # noqa: F401
    except ImportError:
        pass
