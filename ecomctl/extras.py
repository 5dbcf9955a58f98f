"""Optional extras (pyproject `[project.optional-dependencies]`): which extra provides a module, and the
one-line error a command raises before any work when the extra it needs is not installed."""

from __future__ import annotations

import sys
from importlib.util import find_spec

from ecomctl.errors import BackendUnavailable

# top-level modules ecomctl imports from each extra (the extra may pull in more)
EXTRAS: dict[str, tuple[str, ...]] = {
    "models": ("torch", "diffusers", "transformers", "safetensors", "accelerate", "peft", "huggingface_hub",
               "tokenizers"),
    "dataset": ("pyarrow", "pandas"),
    "ray": ("ray",),
    "paddle": ("paddleocr",),
}


def how_to_install(extra: str) -> str:
    return f"pip install 'ecomctl[{extra}]'"


def extra_for(module: str | None) -> str | None:
    """The extra that provides `module` (dotted names count by their top level), or None."""
    top = (module or "").split(".")[0]
    return next((extra for extra, mods in EXTRAS.items() if top in mods), None)


def require(what: str, extra: str, modules: tuple[str, ...]) -> None:
    """Raise one line naming the extra when any of `modules` is not importable (checked without importing)."""
    missing = [m for m in modules if absent(m)]
    if missing:
        raise BackendUnavailable(f"{what} needs {', '.join(missing)} (not installed): "
                                 f"{how_to_install(extra)}")


def absent(module: str) -> bool:
    """Not importable; checked without importing it (torch alone takes seconds)."""
    if module in sys.modules:  # imported already, or blocked with None
        return sys.modules[module] is None
    try:
        return find_spec(module) is None
    except (ImportError, ValueError):
        return True


def missing_extra(e: ModuleNotFoundError, what: str) -> BackendUnavailable | None:
    """A ModuleNotFoundError for a module an extra provides, as the one-line error (else None)."""
    extra = extra_for(e.name)
    if extra is None:
        return None
    return BackendUnavailable(f"{what} needs {e.name.split('.')[0]} (not installed): "
                              f"{how_to_install(extra)}")
