"""`grounded-sam` extractor: text prompt → GroundingDINO boxes → SAM masks → shared cleanup (batched).

Uses the transformers ports (GroundingDinoForObjectDetection, SamModel), safetensors only, no remote
code. Weights come from a local folder or the local Hugging Face cache; nothing is downloaded unless
`allow_download: true` and HF_HUB_OFFLINE is not set, so `auto` falls back to `classical` with a reason.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from ecomctl.config import check_keys
from ecomctl.errors import BackendUnavailable, ConfigError, EcomctlError, ExtractionError
from ecomctl.subject import EXTRACTORS
from ecomctl.subject.classical import flatten
from ecomctl.subject.mask import Cleanup, decontaminate, finish_mask, mask_bbox
from ecomctl.types import Subject
from ecomctl.weights import INSTALL_HINT, may_download, offline


@dataclass(frozen=True)
class GroundedSamSettings:
    detector: str = "IDEA-Research/grounding-dino-tiny"  # hub id or local folder
    segmenter: str = "facebook/sam-vit-base"  # hub id or local folder
    box_threshold: float = 0.3
    text_threshold: float = 0.25
    box_policy: Literal["best", "union"] = "best"  # union: every box above threshold (sets, pairs)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    batch_size: int = 8  # images per forward pass
    allow_download: bool = False  # allow fetching missing weights from the hub (never when HF_HUB_OFFLINE=1)
    feather_px: float = 1.2

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> GroundedSamSettings:
        if "download" in settings:  # the switch has one name everywhere (backends.<name>.allow_download)
            raise ConfigError("config subject.grounded-sam.download: renamed allow_download "
                              "(the name every backend uses); rename the key")
        check_keys("subject.grounded-sam", settings, {f.name for f in fields(cls)})
        out = cls(**settings)
        if out.box_policy not in ("best", "union"):
            raise ConfigError(f"subject.grounded-sam.box_policy: {out.box_policy!r} is not best or union")
        return out


def _missing_module(*names: str) -> str | None:
    """The first module that cannot be imported, found without importing it (torch costs seconds)."""
    for name in names:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (blocked)
            return name
    return None


def weights_missing(source: str, may_download: bool) -> str | None:
    """None when `source` (a local folder or a hub id) can be loaded now; else one line saying why not."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            return f"{source}: no config.json in this folder"
        if not any(path.glob("*.safetensors")):
            return f"{source}: no .safetensors weights in this folder (only safetensors are loaded)"
        return None
    if source.startswith((".", "/", "~")):
        return f"{source}: local model folder does not exist"
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        cached = try_to_load_from_cache(source, "config.json")
    except HFValidationError:
        return f"{source!r} is neither a model folder nor a valid Hugging Face repo id"
    if isinstance(cached, str):
        return None
    if may_download:
        return None
    how = "HF_HUB_OFFLINE=1 is set" if offline() else "downloads are off (subject.grounded-sam.allow_download: false)"
    return (f"weights for {source} are not in the local Hugging Face cache and {how}; "
            f"run `huggingface-cli download {source}` or point the config at a local folder")


def _prompt_text(prompt: str) -> str:
    """GroundingDINO wants lower-case phrases each ending with a period: "perfume bottle."."""
    phrases = [p.strip().lower() for p in prompt.replace(",", ".").split(".") if p.strip()]
    return " . ".join(phrases or ["product"]) + " ."


@dataclass(frozen=True)
class _Models:
    torch: Any
    detector: Any
    det_proc: Any
    segmenter: Any
    seg_proc: Any
    device: str


class GroundedSamExtractor:
    name = "grounded-sam"

    def __init__(self, settings: dict[str, Any]):
        self.settings = GroundedSamSettings.from_dict(dict(settings))
        self.cleanup = Cleanup(feather_px=self.settings.feather_px)
        self._models: _Models | None = None

    def may_download(self) -> bool:
        return may_download(self.settings.allow_download)

    def unavailable(self) -> str | None:
        missing = _missing_module("torch", "transformers")
        if missing:
            return f"needs torch and transformers ({missing} is missing); {INSTALL_HINT}"
        for source in (self.settings.detector, self.settings.segmenter):
            why = weights_missing(source, self.may_download())
            if why:
                return why
        return None

    # ---- loading (once per process: the registry caches this instance) ----
    def models(self) -> _Models:
        if self._models is None:
            why = self.unavailable()
            if why:
                raise BackendUnavailable(f"subject extractor 'grounded-sam' unavailable: {why}")
            self._models = self._load()
        return self._models

    def _load(self) -> _Models:
        import torch
        from transformers import AutoProcessor, GroundingDinoForObjectDetection, SamModel

        s = self.settings
        device = s.device if s.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        kw = {"local_files_only": not self.may_download()}
        try:
            det = GroundingDinoForObjectDetection.from_pretrained(s.detector, use_safetensors=True, **kw)
            det_proc = AutoProcessor.from_pretrained(s.detector, **kw)
            seg = SamModel.from_pretrained(s.segmenter, use_safetensors=True, **kw)
            seg_proc = AutoProcessor.from_pretrained(s.segmenter, **kw)
        except (OSError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BackendUnavailable(f"grounded-sam: cannot load {s.detector} / {s.segmenter}: {first}") from None
        return _Models(torch, det.to(device).eval(), det_proc, seg.to(device).eval(), seg_proc, device)

    # ---- extraction ----
    def extract(self, image: Image.Image, prompt: str) -> Subject:
        out = self.extract_many([image], [prompt])[0]
        if isinstance(out, EcomctlError):
            raise out
        return out

    def extract_many(self, images: list[Image.Image], prompts: list[str]) -> list[Subject | ExtractionError]:
        """Masks for several photos; batches of `batch_size` go through each model in one forward."""
        m = self.models()
        rgbs = [flatten(im) for im in images]
        out: list[Subject | ExtractionError] = []
        step = max(1, self.settings.batch_size)
        for i in range(0, len(rgbs), step):
            out.extend(self._batch(m, rgbs[i:i + step], prompts[i:i + step]))
        return out

    def _batch(self, m: _Models, rgbs: list[Image.Image], prompts: list[str]) -> list[Subject | ExtractionError]:
        boxes = self.detect(m, rgbs, prompts)
        found = [i for i, b in enumerate(boxes) if b]
        raws = self.segment(m, [rgbs[i] for i in found], [boxes[i] for i in found]) if found else []
        results: list[Subject | ExtractionError] = [
            ExtractionError(f"no box for {_prompt_text(p)!r} above box_threshold {self.settings.box_threshold}")
            for p in prompts]
        for i, raw in zip(found, raws):
            try:
                mask = finish_mask(raw, rgbs[i], self.cleanup)
                results[i] = Subject(decontaminate(rgbs[i], mask), mask, mask_bbox(mask), self.name)
            except ExtractionError as e:
                results[i] = ExtractionError(f"SAM mask empty: {e}")
        return results

    def detect(self, m: _Models, rgbs: list[Image.Image], prompts: list[str]) -> list[list[list[float]]]:
        """Boxes (x0, y0, x1, y1 in pixels) chosen by the box policy, per image; [] when none passed."""
        s = self.settings
        texts = [_prompt_text(p) for p in prompts]
        inputs = m.det_proc(images=rgbs, text=texts, padding=True, return_tensors="pt").to(m.device)
        with m.torch.inference_mode():
            outputs = m.detector(**inputs)
        dets = m.det_proc.post_process_grounded_object_detection(
            outputs, inputs["input_ids"], threshold=s.box_threshold, text_threshold=s.text_threshold,
            target_sizes=[(im.height, im.width) for im in rgbs])
        chosen = []
        for det in dets:
            scores, bxs = det["scores"].float().cpu(), det["boxes"].float().cpu()
            if len(scores) == 0:
                chosen.append([])
            elif s.box_policy == "best":
                chosen.append([bxs[int(scores.argmax())].tolist()])
            else:
                chosen.append(bxs[scores.argsort(descending=True)].tolist())
        return chosen

    def segment(self, m: _Models, rgbs: list[Image.Image], boxes: list[list[list[float]]]) -> list[np.ndarray]:
        """One boolean mask per image: the union of SAM's best (by predicted IoU) mask for each box."""
        most = max(len(b) for b in boxes)
        padded = [b + [b[-1]] * (most - len(b)) for b in boxes]  # same box count per image for one tensor
        inputs = m.seg_proc(images=rgbs, input_boxes=padded, return_tensors="pt").to(m.device)
        with m.torch.inference_mode():
            out = m.segmenter(**inputs, multimask_output=True)
            # keep SAM's best of its 3 candidates per box (by predicted IoU) before upsampling
            best = out.iou_scores.argmax(-1)  # (images, boxes)
            idx = best[..., None, None, None].expand(-1, -1, 1, *out.pred_masks.shape[-2:])
            chosen = out.pred_masks.gather(2, idx).float().cpu()  # (images, boxes, 1, h, w)
        logits = m.seg_proc.image_processor.post_process_masks(
            chosen, inputs["original_sizes"].cpu(), inputs["reshaped_input_sizes"].cpu(), binarize=False)
        return [(logits[i][: len(b), 0] > 0).any(dim=0).numpy() for i, b in enumerate(boxes)]


EXTRACTORS.add("grounded-sam", GroundedSamExtractor)
