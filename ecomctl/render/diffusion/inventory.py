"""Model inventory for `ecomctl models` and `doctor`: what each render backend needs (repo ids from config),
what is present locally (HF cache or folder) and how large it is — without importing torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecomctl.render import BACKENDS, load_builtins
from ecomctl.render.diffusion.common import DiffusionBackend
from ecomctl.render.diffusion.loading import folder_bytes, locate


@dataclass(frozen=True)
class ModelStatus:
    backend: str
    key: str  # settings key: backends.<backend>.<key>
    role: str
    repo: str  # hub id or local folder, as configured
    required: bool
    approx_gb: float  # rough size of what is loaded
    path: Path | None  # where it was found locally
    local_bytes: int | None  # size on disk of the found folder
    used: bool = True  # False: configured for a feature that is off (e.g. style_ip)

    @property
    def present(self) -> bool:
        return self.path is not None

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "key": self.key, "role": self.role, "repo": self.repo,
                "required": self.required, "approx_gb": self.approx_gb, "present": self.present,
                "path": str(self.path) if self.path else None, "local_bytes": self.local_bytes, "used": self.used}


def backend_names() -> list[str]:
    load_builtins()
    return BACKENDS.names()


def instance(name: str, settings: dict[str, Any] | None) -> Any:
    """A backend object for inspection (device "cpu": nothing is loaded, torch is not imported)."""
    load_builtins()
    return BACKENDS.get(name)(settings or {}, "cpu")


def statuses(name: str, settings: dict[str, Any] | None, sizes: bool = True) -> list[ModelStatus]:
    backend = instance(name, settings)
    if not isinstance(backend, DiffusionBackend):
        return []  # e.g. compose: no weights
    out = []
    for need, repo in backend.needs(unused=True):
        path = locate(repo)
        size = folder_bytes(path) if (path is not None and sizes) else None
        files, used = backend.need_files(need), backend.uses(need)
        off = f"{need.when} is false" if hasattr(backend.settings, str(need.when)) else f"used in {need.when} only"
        role = need.role + (f" [{files}]" if files else "") + ("" if used else f" (off: {off})")
        out.append(ModelStatus(name, need.key, role, repo, need.required, need.approx_gb, path, size, used))
    return out


def readiness(name: str, settings: dict[str, Any] | None) -> str | None:
    """None when the backend can run here; otherwise its one-line reason."""
    return instance(name, settings).unavailable()


def check(name: str, settings: dict[str, Any] | None) -> list[str]:
    """Every problem with the weights the backend will load, one line each (empty: ready)."""
    from ecomctl.render.diffusion import verify

    return verify.problems(instance(name, settings))
