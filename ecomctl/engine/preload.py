"""Modules a CPU worker pool's fork server imports once, so its workers start with them loaded.

A spawned worker re-imports NumPy, OpenCV, onnxruntime and RapidOCR (whose import parses its model tables)
on its own: ~2 CPU-seconds per worker per run. The fork server (see `engine/executors.py`) imports this
module once, before any thread or model exists, and every worker it forks shares those pages. Nothing here
creates a session, a thread or a file; models still load in each worker, on first use. The parent's
`__main__` (the `ecomctl` console script, which imports the CLI) is preloaded by name beside this module
(`engine/executors.py`), so the engine never imports the CLI above it."""

from __future__ import annotations

import contextlib

import cv2  # noqa: F401
import numpy  # noqa: F401
from PIL import Image  # noqa: F401

import ecomctl.engine.item
import ecomctl.qa
import ecomctl.render.compose
import ecomctl.subject.classical
import ecomctl.subject.saliency  # noqa: F401

for _optional in ("fpng", "onnxruntime"):  # a missing one is reported (or worked around) where it is used
    with contextlib.suppress(ImportError):
        __import__(_optional)
with contextlib.suppress(ImportError):
    from rapidocr import RapidOCR  # noqa: F401  (the package imports its engine lazily)
