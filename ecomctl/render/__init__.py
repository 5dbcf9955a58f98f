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
    except ImportError:
        pass


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
