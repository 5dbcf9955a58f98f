"""Typed values of the dataset build: a source item (one poster to turn into a sample) and its conditions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from ecomctl.types import Layout

SourceKind = Literal["render", "poster"]


@dataclass(frozen=True)
class SourceItem:
    """One poster to process: a render sidecar (exact conditions) or an image file (estimated ones)."""

    id: str  # sample id, unique in the corpus, safe as a file stem
    kind: SourceKind
    path: Path  # sidecar JSON for renders, the image for found posters
    sku: str
    group: str  # pairing group (siblings share it); defaults to the SKU
    prompt: str | None = None  # from metadata
    subject: str | None = None  # detector prompt from metadata

    def fingerprint(self) -> str:
        st = self.path.stat()
        return f"{self.path}:{st.st_size}:{st.st_mtime_ns}:{self.prompt}:{self.subject}:{self.group}"


@dataclass(frozen=True, eq=False)
class Conditions:
    """Everything one sample conditions on, in one pixel space (the poster's, then the normalised one)."""

    poster: Image.Image  # RGB
    subject_mask: np.ndarray  # HxW uint8 0..255
    style: Image.Image  # RGB: poster without text and subject
    layout: Layout  # text lines (exact text, ink boxes, font sizes) and the subject box
    prompt: str
    style_from: str  # "layer" (render kept its background) | "inpaint"
    subject_method: str
    line_scores: tuple[float, ...] = ()  # OCR confidence per line (1.0 when known exactly)
    notes: tuple[str, ...] = field(default_factory=tuple)
    suspect: str | None = None  # a drop reason the source found (e.g. the subject mask swallowed the copy)
    subject_confidence: float | None = None  # the extractor's mask confidence (None = exact, e.g. a render's)
    subject_confidence_why: str | None = None
    struck: tuple[int, ...] = ()  # lines (indices into layout.lines) found struck through (a found list price)
    logo: Image.Image | None = None  # the brand logo as drawn (RGBA, the size of layout.logo); None without one
    qa_status: str | None = None  # the render's QA verdict (pass | warn | fail); None for found posters
    qa_flags: tuple[str, ...] = ()  # "check: status" for every QA check that warned or failed
    layout_metrics: dict[str, float | None] | None = None  # the render's QA layout metrics (val … rea)


@dataclass(frozen=True)
class Placement:
    """How a poster was normalised: scaled by `scale`, then padded (left, top, right, bottom)."""

    orig_w: int
    orig_h: int
    scale: float
    pad: tuple[int, int, int, int]

    @property
    def size(self) -> tuple[int, int]:
        return (round(self.orig_w * self.scale) + self.pad[0] + self.pad[2],
                round(self.orig_h * self.scale) + self.pad[1] + self.pad[3])
