"""Shared CLI plumbing: consoles, error printing, config from flags, progress that degrades off a TTY."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from ecomctl.errors import EcomctlError
from ecomctl.textsafe import neutralise

if TYPE_CHECKING:
    from ecomctl.config import Config

console = Console()
COLUMNS_HELP = ("Map another export's columns to manifest fields, e.g. sku=ItemID,title=Name,image=Photo; "
                'quote a name with a comma: title="Name, short" (a Shopify product export or a Google Merchant '
                "feed is recognised by its header).")
LOGOS_HELP = ("Folder of brand logos for a shop export: a Shopify Vendor or a feed's brand is drawn as "
              "DIR/<brand>.png (any case) \\[default: input.logos].")
err_console = Console(stderr=True)


def print_notes(notes) -> None:
    """Warnings that stop nothing (a brand without a logo file): one yellow line each on stderr."""
    for note in notes:
        err_console.print(f"warning: {note}", style="yellow", highlight=False, soft_wrap=True, markup=False)


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


class Bar:
    """A transient progress bar on a TTY; `print` puts a line above it (a plain print off a TTY)."""

    def __init__(self, label: str, total: int | None = None):
        self.label, self.total, self._bar, self._task = label, total, None, None

    def __enter__(self) -> Bar:  # noqa: PYI034 (py3.10: no typing.Self)
        if is_tty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            columns = (TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            self._bar = Progress(*columns, console=console, transient=True).__enter__()
            self._task = self._bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def update(self, done: int | None = None, total: int | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def print(self, line: str, status: str) -> None:
        """One result line, coloured by status on a TTY, plain (and flushed) otherwise."""
        from ecomctl.outcome import STATUS_COLOURS

        if self._bar is None:
            try:
                print(line, flush=True)
            except BrokenPipeError:
                _stdout_gone()
        else:
            self._bar.console.print(f"[{STATUS_COLOURS.get(status, 'default')}]{escape(line)}[/]", highlight=False)


def _stdout_gone() -> None:
    """The reader of our output went away (`| head`, a dead log pipe): send the rest to /dev/null and let
    the run finish and write its report, rather than dying mid-run with nothing reported."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def print_traceback(log: Path | None) -> None:
    """With --debug: the full traceback a failed SKU left in OUT/logs/ (stderr)."""
    if STATE.debug and log is not None:
        try:
            err_console.print(escape(Path(log).read_text(encoding="utf-8")), highlight=False, soft_wrap=True)
        except OSError:
            pass


def build_config(config_file: Path | None, overrides: dict[str, Any]) -> Config:
    from ecomctl.config import load_config  # pydantic loads when a command runs, not for --help

    return load_config(config_file, overrides)


def is_tty() -> bool:
    return sys.stdout.isatty()


def command_name(fn) -> str:
    """`ecomctl dataset build` for cli/dataset.py's build(), `ecomctl render` for cli/render.py's render()."""
    group, name = fn.__module__.rsplit(".", 1)[1], fn.__name__.rstrip("_")
    return f"ecomctl {group}" if group == name else f"ecomctl {group} {name}"


def run_fault(e: OSError) -> EcomctlError | None:
    """A command's write that hit a run fault (`store.files.fault_of`) as RunFault (exit 3), else None."""
    from ecomctl.errors import RunFault
    from ecomctl.store.files import fault_of, fault_remedy

    fault = fault_of(e)
    if fault is None:
        return None
    return RunFault(f"stopped: {fault}; {fault_remedy(fault)} and run the same command again")


def guard(fn):
    """Decorate a command so EcomctlError becomes one red line and its exit code (also under CliRunner);
    a module from a missing extra (pyarrow, torch …) becomes the line naming the extra to install; a run
    fault (a full, read-only or failing disk) that a command did not turn into RunFault itself, exit 3."""
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
        except OSError as e:  # the output disk full, over quota, read-only or failing: one line and exit 3
            fault = run_fault(e)
            if fault is None:
                raise
            fail(fault)

    return wrapper
