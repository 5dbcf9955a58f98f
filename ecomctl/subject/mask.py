"""Mask helpers shared by every extractor: bounding box, cleanup (holes, islands), feathered alpha."""

from __future__ import annotations

import numpy as np

from ecomctl.errors import ExtractionError
from ecomctl.types import Box


def mask_bbox(mask: np.ndarray, thresh: int = 127) -> Box:
    ys, xs = np.nonzero(mask > thresh)
    if len(xs) == 0:
        raise ExtractionError("mask is empty")
    return Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
