"""constraints.txt pins every package `make test` installs by name (core + models, dataset, ray, dev), so a
dependency added to pyproject.toml without `make lock` is caught here rather than drifting in CI."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT

TESTED_EXTRAS = ("models", "dataset", "ray", "dev")  # what `make install-test` installs


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0)).lower()


def test_every_declared_requirement_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for extra in TESTED_EXTRAS for r in project["optional-dependencies"][extra]}
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and "+" not in version, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[_name(name)] = version
    assert sorted(declared - set(pins)) == [], "declared but not pinned: run `make lock`"
