"""`ecomctl models check`: a backend's local weights folders against what it will load — pipeline components,
their safetensors weights (and the weight variant in use), the LoRA file, the IP-Adapter files — before a night
starts; one line per problem."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ecomctl.render.diffusion.common import DiffusionBackend, Need
from ecomctl.render.diffusion.loading import locate, pick_lora_file
from ecomctl.render.diffusion.pull import _variant

NO_WEIGHTS = {"tokenizer", "tokenizer_2", "scheduler", "feature_extractor", "processor"}  # configs only


def listing(folder: Path) -> set[str]:
    """Every file under a folder as a relative POSIX path (the HF cache's symlinks followed)."""
    out = set()
    for root, _dirs, files in os.walk(folder, followlinks=True):
        for f in files:
            out.add(Path(root, f).relative_to(folder).as_posix())
    return out


def _weights(files: set[str], folder: str) -> list[str]:
    prefix = f"{folder}/" if folder else ""
    return [f for f in files if f.startswith(prefix) and "/" not in f[len(prefix):] and f.endswith(".safetensors")
            and f[len(prefix):].startswith(("diffusion_pytorch_model", "model.", "model-"))]


def _has_variant(weights: list[str], variant: str) -> bool:
    return any((_variant(w) or "") == variant or (_variant(w) or "").startswith(f"{variant}-") for w in weights)


def _model_folder(files: set[str], folder: str, variant: str | None) -> list[str]:
    """What is wrong with one model folder (a pipeline component, a ControlNet, a VAE)."""
    where = f"{folder}/" if folder else "the folder"
    if not any(f.startswith(f"{folder}/") for f in files) and folder:
        return [f"{where} is missing"]
    weights = _weights(files, folder)
    if not weights:
        return [f"{where} has no safetensors weights (diffusion_pytorch_model / model .safetensors)"]
    if variant and not _has_variant(weights, variant):
        return [f"{where} has no {variant} weights (variant {variant})"]
    return []


def _main(backend: DiffusionBackend, files: set[str], root: Path) -> list[str]:
    if "model_index.json" not in files:
        return ["no model_index.json: not a diffusers pipeline folder"]
    try:
        index = json.loads((root / "model_index.json").read_text())
    except (OSError, ValueError) as e:
        return [f"model_index.json cannot be read: {type(e).__name__}"]
    variant, problems = backend.weight_variant(), []
    for part, spec in sorted(index.items()):
        if part.startswith("_") or not isinstance(spec, list) or None in spec or part in backend.supplied_components():
            continue
        if part in NO_WEIGHTS:
            if not any(f.startswith(f"{part}/") for f in files):
                problems.append(f"{part}/ is missing")
            continue
        problems += _model_folder(files, part, variant)
    return problems


def _need(backend: DiffusionBackend, need: Need, files: set[str], root: Path) -> list[str]:
    s = backend.settings
    if need.key == backend.MAIN:
        return _main(backend, files, root)
    if need.key == "lora":
        name = getattr(s, "lora_weight", None)
        if name:
            return [] if name in files else [f"no LoRA file {name} (backends.{backend.name}.lora_weight)"]
        return [] if pick_lora_file(files) else ["no top-level .safetensors LoRA file"]
    if need.key == "ip_adapter":
        enc = s.ip_image_encoder if "/" in s.ip_image_encoder else f"{s.ip_subfolder}/{s.ip_image_encoder}"
        weight = f"{s.ip_subfolder}/{s.ip_weight}"
        return ([] if weight in files else [f"no {weight}"]) + _model_folder(files, enc, None)
    return _model_folder(files, "", None)  # a single-model repo: ControlNet, VAE, tiny VAE


def problems(backend: Any) -> list[str]:
    """One line per problem with the local weights this configuration loads (none: ready)."""
    if not isinstance(backend, DiffusionBackend):
        return []
    why = backend.unavailable()
    if why is not None:
        return [why]
    out = []
    for need, repo in backend.needs():
        root = locate(repo)
        if root is None:  # downloads allowed: from_pretrained fetches it
            continue
        files = listing(root)
        out += [f"{need.key} ({repo}, {backend.where(need.key)}): {p}" for p in _need(backend, need, files, root)]
    return out
