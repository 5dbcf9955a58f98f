"""Every option's help text reaches `--help` whole: rich reads `[…]` as markup and silently drops it, so a
help string that says `[default: …]` without escaping it showed "Sheet of an Excel workbook to read ." """

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ecomctl.cli import app

runner = CliRunner()


def _commands() -> list[tuple[list[str], Any]]:
    """Every leaf command as (words, command); typer vendors its own click, so groups are found by `commands`."""
    out: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            out.append((path, cmd))

    walk(typer.main.get_command(app), [])
    assert len(out) > 8, out  # every command, not the group alone
    return out


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("│", " ")).strip()


_ALL = _commands()


@pytest.mark.parametrize(("path", "cmd"), _ALL, ids=[" ".join(p) for p, _ in _ALL])
def test_every_option_help_is_shown_whole(path: list[str], cmd: Any) -> None:
    res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "1000", "TERMINAL_WIDTH": "1000"})
    assert res.exit_code == 0, res.output
    shown = _words(res.output)
    for param in cmd.params:
        text = getattr(param, "help", None)
        if not text:
            continue
        wanted = _words(text.replace("\\[", "["))
        assert wanted in shown, f"{' '.join(path)} {param.opts or param.name}: help shown mangled: {wanted!r}"


def test_the_check_sees_markup_eaten() -> None:
    """The check above is not vacuous: an unescaped [default: …] is what rich eats."""
    probe = typer.Typer()

    @probe.command()
    def cmd(sheet: str = typer.Option(None, "--sheet", help="Sheet to read [default: the first].")) -> None:
        pass

    res = runner.invoke(probe, ["--help"], env={"COLUMNS": "1000", "TERMINAL_WIDTH": "1000"})
    assert "[default: the first]" not in _words(res.output)
