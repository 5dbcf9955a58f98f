"""CI runs the linter: `.ci/run` calls `make lint` before `make test`, and `make lint` installs ruff first (a
fresh clone has no venv), with the rules and their deliberate exceptions in pyproject.toml."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT


def test_ci_lints_before_it_tests():
    steps = [ln.split("#")[0].strip() for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert "make lint" in steps and "make test" in steps
    assert steps.index("make lint") < steps.index("make test")


def test_make_lint_installs_ruff_before_running_it():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^lint:(.*)\n\t(.*)$", make, re.MULTILINE)
    assert rule is not None and "install-test" in rule.group(1).split()
    assert rule.group(2).strip() == "$(VENV)/bin/ruff check ecomctl tests"
    install = re.search(r"^install-test:.*\n((?:\t.*\n)+)", make, re.MULTILINE)
    assert install is not None and re.search(r"\[[^\]]*\bdev\b", install.group(1))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("ruff") for d in project["project"]["optional-dependencies"]["dev"])


def test_every_ignored_ruff_rule_says_why():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    lint = tomllib.loads(text)["tool"]["ruff"].get("lint", {})
    assert lint.get("ignore", []) == []  # no rule switched off for the whole code
    for pattern in lint.get("per-file-ignores", {}):
        before = text.split(f'"{pattern}"', 1)[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), f"per-file-ignores {pattern!r} has no comment saying why"
