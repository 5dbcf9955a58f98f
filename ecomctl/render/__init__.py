"""Scene stage: render backends make the canvas around the placed product (registry + protocol).

Every built-in backend is one `Backend` entry in BUILTIN below: its name, the module that registers it, the
optional extra its third-party packages come from and its architecture builder in ecomctl/bench/arch.py
(random weights: `ecomctl bench` and the tests' tiny models derive their backend tables from this one). A
backend's settings and their defaults are its class's `Settings` (`default_settings`). To add a backend:
write its module (registering the name with `@BACKENDS.register`) and add its entry here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ecomctl.errors import BackendUnavailable, BrokenModule
from ecomctl.registry import Registry, import_builtin
from ecomctl.types import Scene, SceneRequest


class RenderBackend(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """None when usable; otherwise one line naming what is missing and how to get it."""

    def render(self, requests: Sequence[SceneRequest]) -> list[Scene]:
        """Make one scene per request (requests share a canvas size, so they may run as one batch)."""

    def describe(self) -> dict[str, Any]:
        """Model ids, steps, dtype … recorded in run.yaml and each sidecar."""


# name → factory(settings: config `backends.<name>` dict, device: str)
BACKENDS: Registry[Callable[[dict[str, Any], str], RenderBackend]] = Registry("render backend")
_CACHE: dict[tuple[str, str, str], RenderBackend] = {}
LOADS = 0  # backends built in this process (a Ray actor or pool worker should build exactly one)




@dataclass(frozen=True)
class Backend:
    """A built-in backend: `module` registers `name` when imported (heavy imports happen later, inside it);
    `extra`: the pip extra its third-party packages come from; `arch`: its builder in ecomctl/bench/arch.py
    (the model's architecture with random weights, `full` or `tiny` scale), None for a backend with no model."""

    name: str
    module: str
    extra: str | None = None
    arch: str | None = None


_D = "ecomctl.render.diffusion."
BUILTIN: tuple[Backend, ...] = (
    Backend("compose", "ecomctl.render.compose"),
    Backend("sdxl-inpaint", _D + "sdxl_inpaint", "models", "sdxl"),
    Backend("sdxs", _D + "sdxs", "models", "sdxs"),
    Backend("qwen-image", _D + "qwen_image", "models", "qwen_image"),
    Backend("flux-fill", _D + "flux_fill", "models", "flux_fill"),
    Backend("composer", _D + "composer", "models", "composer"),
)
_LOADED = False


def load_builtins() -> None:
    """Import every built-in backend's module once per process (importing registers it). Only a missing
    package of an optional extra hides a backend (asking for it says which extra to install); an error in
    ecomctl's own module stops the command with one line naming the file (BrokenModule, exit 2)."""
    global _LOADED
    if _LOADED:
        return
    for entry in BUILTIN:
        why = import_builtin(entry.module, f"render backend {entry.name!r}")
        if why is not None:
            BACKENDS.hide(entry.name, why)
        elif entry.name not in BACKENDS:
            raise BrokenModule(f"{entry.module} does not register render backend {entry.name!r}")
    _LOADED = True


def default_settings(name: str) -> dict[str, Any] | None:
    """A diffusion backend's settings with every default (None for a backend without Settings)."""
    return resolved_settings(name, {})


def resolved_settings(name: str, settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """A diffusion backend's settings with every default filled in (None for the others): part of the render key,
    so a poster is made again when a default that changes its pixels changes (steps, scheduler, precision…)."""
    load_builtins()
    factory = BACKENDS.get(name)
    from ecomctl.render.diffusion.common import DiffusionBackend

    if not (isinstance(factory, type) and issubclass(factory, DiffusionBackend)):
        return None
    from ecomctl.config import validate_section

    return validate_section(factory.Settings, settings, f"backends.{name}").model_dump(mode="json")


def get_backend(name: str, settings: dict[str, Any] | None = None, device: str = "auto") -> RenderBackend:
    """The backend instance for this process (a pipeline loads once per process), checked usable."""
    load_builtins()
    factory = BACKENDS.get(name)
    key = (name, repr(sorted((settings or {}).items())), device)
    if key not in _CACHE:
        global LOADS
        LOADS += 1
        backend = factory(settings or {}, device)
        why = backend.unavailable()
        if why:
            raise BackendUnavailable(f"backend {name!r} unavailable: {why}")
        _CACHE[key] = backend
    return _CACHE[key]
