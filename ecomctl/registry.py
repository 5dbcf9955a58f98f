"""Name → implementation tables for extractors, backends, OCR engines, templates; with "did you mean"."""

from __future__ import annotations

import difflib
import importlib
import os
import traceback
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ecomctl.errors import BackendUnavailable, BrokenModule, ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of factories. Lookups of unknown names raise ConfigError with suggestions."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._hidden: dict[str, str] = {}  # name → why it is not available (an optional extra is missing)

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        self.register(name)(obj)

    def hide(self, name: str, why: str) -> None:
        """`name` exists but cannot be used here (its optional extra is missing): `get` says `why`."""
        self._hidden[name] = why

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            if name in self._hidden:
                raise BackendUnavailable(f"{self.kind} {name!r} unavailable: {self._hidden[name]}") from None
            raise ConfigError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._items, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(self._items))
        return f"unknown {self.kind} {name!r}{hint} (known: {known})"

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)


def import_builtin(module: str, what: str) -> str | None:
    """Import `module` (ecomctl's own code registering `what`). A missing package of an optional extra
    returns the one-line reason naming the extra to install (the caller hides `what`); anything else that
    stops the import — SyntaxError, NameError, an ImportError inside ecomctl or of a package no extra
    provides — raises BrokenModule naming the file and line, never "unknown …"."""
    from ecomctl.extras import extra_for, how_to_install

    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        extra = extra_for(e.name)
        if extra is None:
            raise BrokenModule(f"{_where(e, module)}: {what} cannot be loaded: {type(e).__name__}: {e}") from e
        return f"needs {(e.name or '').split('.')[0]} (not installed): {how_to_install(extra)}"
    except Exception as e:  # any failure of ecomctl's own module is reported as one line
        raise BrokenModule(f"{_where(e, module)}: {what} cannot be loaded: {type(e).__name__}: {_message(e)}"
                           ) from e
    return None


def _message(e: BaseException) -> str:
    return e.msg if isinstance(e, SyntaxError) and e.msg else str(e)


def _where(e: BaseException, module: str) -> str:
    """file:line of the fault: a SyntaxError's own, else the innermost frame in ecomctl's package (else the
    innermost frame; the module's name when the import never reached any code); the file relative to the
    working folder when it lies below it."""
    if isinstance(e, SyntaxError) and e.filename:
        path, line = e.filename, e.lineno or 0
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename != __file__
                  and not f.filename.startswith("<")]
        ours = [f for f in frames if os.path.abspath(f.filename).startswith(here + os.sep)] or frames
        if not ours:
            return module
        path, line = ours[-1].filename, ours[-1].lineno or 0
    rel = os.path.relpath(path)
    return f"{path if rel.startswith('..') else rel}:{line}"
