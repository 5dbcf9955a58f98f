"""Scene stage, diffusion side: finding and loading model weights — a local folder or the local HF cache,
safetensors only, never remote code, downloads only when allowed; a miss is one line naming the fix."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecomctl.errors import BackendUnavailable

if TYPE_CHECKING:
    from ecomctl.render.diffusion.common import DiffusionBackend


def _dtype_kw() -> str:
    """diffusers renamed from_pretrained's `torch_dtype` to `dtype`; use what the installed one expects."""
    try:
        from diffusers.utils import deprecation_utils

        return "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"
    except ImportError:
        return "torch_dtype"


def locate(repo: str) -> Path | None:
    """A local folder, or the snapshot of a hub repo in the local HF cache; None when absent."""
    path = Path(repo).expanduser()
    if path.exists():
        return path
    if path.is_absolute() or repo.startswith((".", "~")) or repo.count("/") != 1:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo, local_files_only=True))
    except Exception:  # noqa: BLE001 — not cached, or huggingface_hub missing: absent either way
        return None


def folder_bytes(path: Path) -> int:
    """Size on disk of a model folder, following the HF cache's symlinks into its blobs."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def pick_lora_file(names: Iterable[str]) -> str | None:
    """The weight file `load_lora_weights` reads from a LoRA repo when none is named — diffusers' own rule:
    top-level .safetensors files, not scheduler/optimizer/checkpoint files, pytorch_lora_weights.safetensors
    first, else the first by name. `models pull` fetches only this file."""
    files = sorted(n for n in names if n.endswith(".safetensors") and "/" not in n
                   and not any(bad in n for bad in ("scheduler", "optimizer", "checkpoint")))
    preferred = [n for n in files if n.endswith("pytorch_lora_weights.safetensors")]
    return (preferred or files or [None])[0]


def fetch_hint(repo: str, where: str) -> str:
    if Path(repo).expanduser().is_absolute() or repo.startswith((".", "~")):
        return f"model folder {repo} ({where}) does not exist"
    backend = where.split(".")[1] if where.count(".") >= 2 else "all"
    return (f"model {repo} ({where}) is not downloaded; fetch it with `ecomctl models pull {backend}` "
            f"or set {where} to a local folder")


class Loader:
    """Loads a backend's components from its settings: safetensors only, never remote code, local files
    only unless downloads are allowed; a missing model becomes BackendUnavailable naming the fix."""

    def __init__(self, backend: DiffusionBackend, dtype: Any):
        self.backend = backend
        self.dtype = dtype

    def source(self, key: str) -> str:
        repo = getattr(self.backend.settings, key)
        found = locate(repo)
        if found is not None:
            return str(found)
        if self.backend.local_only:
            raise BackendUnavailable(fetch_hint(repo, self.backend.where(key)))
        return repo

    def load(self, cls: Any, key: str, **kwargs: Any) -> Any:
        src = self.source(key)
        kwargs.setdefault(_dtype_kw(), self.dtype)
        try:
            return cls.from_pretrained(src, use_safetensors=True, local_files_only=self.backend.local_only,
                                       **kwargs)
        except (OSError, ValueError) as e:
            raise self._failed(key, src, e) from None

    def lora(self, pipe: Any, key: str, weight_name: str | None, scale: float = 1.0) -> None:
        """Load a LoRA and fuse it into the weights (no per-step LoRA overhead)."""
        src = self.source(key)
        if weight_name is None and Path(src).is_dir():
            weight_name = pick_lora_file(p.name for p in Path(src).iterdir())
        if weight_name:
            self.backend.applied["lora_file"] = weight_name
        kwargs = {"weight_name": weight_name} if weight_name else {}
        try:
            pipe.load_lora_weights(src, adapter_name="accel", local_files_only=self.backend.local_only, **kwargs)
        except (OSError, ValueError) as e:
            raise self._failed(key, src, e) from None
        pipe.fuse_lora(lora_scale=scale, adapter_names=["accel"])
        pipe.unload_lora_weights()

    def _failed(self, key: str, src: str, e: Exception) -> BackendUnavailable:
        repo, where = getattr(self.backend.settings, key), self.backend.where(key)
        why = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:160]}" if str(e).strip() else type(e).__name__
        if Path(src).exists():  # present but not a loadable (safetensors) model
            return BackendUnavailable(f"model {repo} ({where}) cannot be loaded from {src}: {why}")
        return BackendUnavailable(f"{fetch_hint(repo, where)} ({why})")
