"""Command-line edge: builds the typer app from one module per command and turns errors into one line."""

from __future__ import annotations

import importlib
import signal
import sys

import typer
from rich.markup import escape

from ecomctl import __version__
from ecomctl.cli.common import err_console
from ecomctl.errors import EcomctlError, Interrupted

# one module per command (each exposes `register(app)`); add yours here
COMMAND_MODULES: tuple[str, ...] = (
    "render",
    "validate",
    "extract",
    "dataset",
    "qa",
    "eval",
    "models",
    "doctor",
    "bench",
)

app = typer.Typer(
    name="ecomctl",
    help="Batch production of e-commerce posters, variants and QA reports from a SKU manifest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"ecomctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    from ecomctl.cli import common

    common.STATE.debug = debug


for _name in COMMAND_MODULES:
    importlib.import_module(f"ecomctl.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry: every failure to run is one red line on stderr and an exit code.

    EcomctlError → its code (2; traceback with --debug); a usage error (unknown command or option, a
    missing argument, a bad value) → 2; SIGINT/SIGTERM → "aborted: …" and 130/143. typer ≥ 0.29 vendors
    click, so usage errors are typer.TyperException (its click.ClickException); click is not imported."""
    from ecomctl.cli import common

    _trap_signals()
    try:
        rc = app(standalone_mode=False, prog_name="ecomctl")  # returns (not raises) typer.Exit codes
    except EcomctlError as e:
        if common.STATE.debug:
            raise
        common.print_error(e)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Interrupted as e:
        _aborted(str(e), e.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _aborted("SIGINT", 130)
    except typer.TyperException as e:
        _usage_error(e)
    sys.exit(rc if isinstance(rc, int) else 0)


def _usage_error(e: typer.TyperException) -> None:
    """One line: what is wrong and where the help is (`ecomctl` alone already printed its help)."""
    message = e.format_message().strip()
    if message:
        path = getattr(getattr(e, "ctx", None), "command_path", None) or "ecomctl"
        err_console.print(f"[red]error:[/red] {escape(message)} (see '{escape(path)} --help')",
                          highlight=False, soft_wrap=True)
    sys.exit(2)


def _aborted(what: str, code: int) -> None:
    err_console.print(f"[red]aborted:[/red] {escape(what)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _trap_signals() -> None:
    """SIGTERM and SIGINT raise Interrupted in the main thread, so a run stops its workers, writes the
    report of what finished and releases its lock (the default SIGTERM would kill us and orphan them)."""
    def raise_interrupted(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one abort: a second signal must not cut the cleanup
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, raise_interrupted)
    signal.signal(signal.SIGINT, raise_interrupted)
