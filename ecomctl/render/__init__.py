"""Scene stage: render backends make the canvas around the placed product (registry + protocol)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ecomctl.errors import BackendUnavailable
from ecomctl.registry import Registry
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


def load_builtins() -> None:
    from ecomctl.render import compose  # noqa: F401

    try:  # diffusion backends register themselves; their heavy imports happen lazily inside
        from ecomctl.render import diffusion  # noqa: F401
    except ImportError as e:
        if (e.name or "ecomctl").partition(".")[0] == "ecomctl":
            raise  # a bug in ecomctl's own backend code is a traceback, never "unknown render backend 'x'"
        # a third-party module the diffusion package needs at import time is missing: compose only


def resolved_settings(name: str, settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """A diffusion backend's settings with every default filled in (None for the others): part of the render key,
    so a poster is made again when a default that changes its pixels changes (steps, scheduler, precision…)."""
    load_builtins()
    factory = BACKENDS.get(name)
    try:
        from ecomctl.render.diffusion.common import DiffusionBackend
    except ImportError:
        return None
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
