"""Shared CLI plumbing: consoles, error printing, config from flags, progress that degrades off a TTY."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ecomctl.config import Config, load_config
from ecomctl.errors import EcomctlError
from ecomctl.textsafe import neutralise

console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    debug: bool = False


STATE = _State()


def print_error(e: EcomctlError) -> None:
    """One red line per problem on stderr (a manifest error lists every problem)."""
    for line in str(e).splitlines() or [type(e).__name__]:
        err_console.print(f"[red]error:[/red] {escape(neutralise(line))}", highlight=False, soft_wrap=True)


def fail(e: EcomctlError) -> None:
    """Used by commands that catch errors themselves (CliRunner tests call commands directly)."""
    import typer

    if STATE.debug:
        raise e
    print_error(e)
    raise typer.Exit(e.exit_code)


def build_config(config_file: Path | None, overrides: dict[str, Any]) -> Config:
    return load_config(config_file, overrides)


def is_tty() -> bool:
    return sys.stdout.isatty()


def command_name(fn) -> str:
    """`ecomctl dataset build` for cli/dataset.py's build(), `ecomctl render` for cli/render.py's render()."""
    group, name = fn.__module__.rsplit(".", 1)[1], fn.__name__.rstrip("_")
    return f"ecomctl {group}" if group == name else f"ecomctl {group} {name}"


def guard(fn):
    """Decorate a command so EcomctlError becomes one red line and its exit code (also under CliRunner);
    a module from a missing extra (pyarrow, torch …) becomes the line naming the extra to install."""
    import functools

    from ecomctl.extras import missing_extra

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EcomctlError as e:
            fail(e)
        except ModuleNotFoundError as e:
            known = missing_extra(e, command_name(fn))
            if known is None:
                raise
            fail(known)

    return wrapper
