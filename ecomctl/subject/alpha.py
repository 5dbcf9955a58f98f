"""`alpha` extractor: the photo already carries transparency; its alpha is the mask."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ecomctl.errors import ExtractionError
from ecomctl.subject import EXTRACTORS
from ecomctl.subject.mask import mask_bbox
from ecomctl.types import Subject


class AlphaExtractor:
    name = "alpha"

    def __init__(self, settings: dict[str, Any]):
        self.settings = settings

    def unavailable(self) -> str | None:
        return None

    def extract(self, image: Image.Image, prompt: str) -> Subject:
        rgba = image.convert("RGBA")
        mask = np.asarray(rgba.getchannel("A"), dtype=np.uint8).copy()
        if int((mask > 127).sum()) == 0:
            raise ExtractionError("alpha channel is empty")
        # the RGB stored under alpha = 0 is arbitrary (crop artifacts): neutral grey, so previews and any
        # resampling across the edge never pull that junk in; visible pixels stay exactly as given
        rgb = np.asarray(rgba.convert("RGB")).copy()
        rgb[mask == 0] = (128, 128, 128)
        return Subject(Image.fromarray(rgb, "RGB"), mask, mask_bbox(mask), self.name)


EXTRACTORS.add("alpha", AlphaExtractor)
