"""Getting the weights for `ecomctl models pull`: which files of which Hugging Face repos each backend loads
(planned from the repo's file listing and model_index.json) and downloading exactly those with
huggingface_hub — resumable, with progress and sizes, honouring HF_HOME, HF_ENDPOINT or a mirror."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecomctl.errors import BackendUnavailable
from ecomctl.render.diffusion.common import DiffusionBackend, Need
from ecomctl.render.diffusion.loading import pick_lora_file
from ecomctl.weights import offline

META = (".json", ".txt", ".model", ".tiktoken", ".jinja")  # configs, tokenizer and processor files
OFFLINE = "HF_HUB_OFFLINE=1 forbids downloads: unset it (or run where the hub is reachable) to pull weights"


@dataclass(frozen=True)
class RepoPlan:
    """The files of one repo a backend's need loads, with their sizes (bytes, from the hub listing)."""

    backend: str
    key: str
    repo: str
    files: tuple[str, ...]
    sizes: Mapping[str, int | None]
    revision: str | None = None
    local: bool = False  # a folder on disk: nothing to pull

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.get(f) or 0 for f in self.files)


def _variant(name: str) -> str | None:
    """'fp16' for diffusion_pytorch_model.fp16.safetensors (or a shard of it), None for the plain file."""
    stem = name.rsplit("/", 1)[-1][: -len(".safetensors")]
    return stem.split(".", 1)[1] if "." in stem else None


def folder_files(files: Mapping[str, Any], folder: str, variant: str | None = None) -> list[str]:
    """A model folder's configs/tokenizer files plus its safetensors weights: the `variant` ones when the
    folder has them (diffusers loads the plain ones otherwise), else the plain ones — never .bin/.ckpt."""
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    direct = [f for f in files if f.startswith(prefix) and "/" not in f[len(prefix):]]
    # the names from_pretrained reads (diffusers' and transformers' own, shards and variants included): a repo's
    # single-file copies (e.g. sdxl_vae.safetensors next to the diffusers weights) are never loaded
    weights = [f for f in direct if f.endswith(".safetensors")
               and f[len(prefix):].startswith(("diffusion_pytorch_model", "model.", "model-"))]
    use = variant if variant and any(_variant(w) == variant for w in weights) else None
    index = f".safetensors.index.{use}.json" if use else ".safetensors.index.json"
    meta = [f for f in direct if f.endswith(META) and (".safetensors.index" not in f or f.endswith(index))]
    return sorted(meta + [w for w in weights if _variant(w) == use])


def pipeline_files(files: Mapping[str, Any], index: Mapping[str, Any], variant: str | None,
                   skip: set[str]) -> list[str]:
    """model_index.json plus every component folder the pipeline loads (not those the backend supplies)."""
    parts = [k for k, v in index.items() if not k.startswith("_") and isinstance(v, list) and None not in v
             and k not in skip]
    return ["model_index.json"] + [f for part in sorted(parts) for f in folder_files(files, part, variant)]


def need_files(backend: DiffusionBackend, need: Need, files: Mapping[str, Any],
               index: Mapping[str, Any] | None) -> list[str]:
    """Exactly the files of this repo the backend loads for `need`."""
    s = backend.settings
    if need.key == backend.MAIN:
        return pipeline_files(files, index or {}, backend.weight_variant(pulling=True), backend.supplied_components())
    if need.key == "lora":
        name = getattr(s, "lora_weight", None) or pick_lora_file(files)
        return [name] if name else []
    if need.key == "ip_adapter":
        enc = s.ip_image_encoder if "/" in s.ip_image_encoder else f"{s.ip_subfolder}/{s.ip_image_encoder}"
        return [f"{s.ip_subfolder}/{s.ip_weight}"] + folder_files(files, enc)
    return folder_files(files, "")  # a single-model repo: ControlNet, VAE, tiny VAE


class Hub:
    """The few huggingface_hub calls pull makes (tests hand in a fake)."""

    def __init__(self, endpoint: str | None = None):
        self.endpoint = endpoint

    def listing(self, repo: str) -> tuple[dict[str, int | None], str | None]:
        from huggingface_hub import HfApi

        info = HfApi(endpoint=self.endpoint).model_info(repo, files_metadata=True)
        return {s.rfilename: s.size for s in info.siblings or []}, info.sha

    def read_json(self, repo: str, name: str, revision: str | None) -> dict[str, Any]:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(repo, name, revision=revision, endpoint=self.endpoint)).read_text())

    def download(self, repo: str, files: list[str], revision: str | None) -> Path:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo, allow_patterns=files, revision=revision, endpoint=self.endpoint))


def plan(backend: DiffusionBackend, hub: Hub) -> list[RepoPlan]:
    """One RepoPlan per model the backend's configuration uses."""
    if offline():
        raise BackendUnavailable(OFFLINE)
    out = []
    for need, repo in backend.needs(pulling=True):
        if Path(repo).expanduser().exists() or repo.startswith((".", "/", "~")):
            out.append(RepoPlan(backend.name, need.key, repo, (), {}, local=True))
            continue
        files, sha = _call(hub.listing, repo)
        index = _call(hub.read_json, repo, "model_index.json", sha) if need.key == backend.MAIN else None
        chosen = need_files(backend, need, files, index)
        missing = [f for f in chosen if f not in files]
        if missing or not chosen:
            raise BackendUnavailable(f"{repo} ({backend.where(need.key)}) has no {missing[0] if missing else 'weights'}"
                                     " to pull: check the repo id and weight file name")
        out.append(RepoPlan(backend.name, need.key, repo, tuple(chosen), {f: files[f] for f in chosen}, sha))
    return out


def fetch(plans: list[RepoPlan], hub: Hub) -> None:
    """Download every planned file (huggingface_hub shows progress, resumes partial files, skips done ones)."""
    if offline():
        raise BackendUnavailable(OFFLINE)
    for p in plans:
        if not p.local:
            _call(hub.download, p.repo, list(p.files), p.revision)


def _call(fn: Callable[..., Any], repo: str, *args: Any) -> Any:
    """A hub call whose failure (no network, unknown repo, refused token) is one line naming the repo."""
    try:
        return fn(repo, *args)
    except Exception as e:  # noqa: BLE001 — requests/httpx/hub errors all mean: could not get it
        why = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise BackendUnavailable(f"cannot pull {repo}: {type(e).__name__}: {why}") from None
