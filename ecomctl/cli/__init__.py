"""Command-line edge: builds the typer app from one module per command and turns errors into one line."""

from __future__ import annotations

import importlib
import sys

import typer

from ecomctl import __version__
from ecomctl.cli.common import err_console
from ecomctl.errors import EcomctlError

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
    """Console-script entry: EcomctlError → one red line on stderr, exit 2 (traceback with --debug)."""
    from ecomctl.cli import common

    try:
        rc = app(standalone_mode=False)  # click returns (not raises) typer.Exit codes here
    except EcomctlError as e:
        if common.STATE.debug:
            raise
        common.print_error(e)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("[red]aborted[/red]")
        sys.exit(130)
    except Exception as e:  # click usage errors
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(2)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)
