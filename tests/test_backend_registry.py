"""The backend table (ecomctl.render.BUILTIN): only a missing optional extra hides a backend (asking for it
names the extra); an error in ecomctl's own backend module is one line naming the file, exit 2; bench and
the tests' tiny models take their backend names from the table."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecomctl import render
from ecomctl.cli import app
from ecomctl.errors import BackendUnavailable, BrokenModule
from ecomctl.render import Backend

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture
def table(monkeypatch, tmp_path):
    """Returns add(source): a backend module `fake_backend_N` with `source` in tmp_path, put in the table as
    backend 'fake' (the registry and the table are restored afterwards)."""
    render.load_builtins()  # the shipped backends registered for good (their modules import once)
    monkeypatch.setattr(render.BACKENDS, "_items", dict(render.BACKENDS._items))
    monkeypatch.setattr(render.BACKENDS, "_hidden", {})
    monkeypatch.setattr(render, "_LOADED", False)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def add(source: str) -> str:
        name = f"fake_backend_{len(list(tmp_path.glob('fake_backend_*.py')))}"
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        importlib.invalidate_caches()
        monkeypatch.setattr(render, "BUILTIN", render.BUILTIN + (Backend("fake", name, "models"),))
        return f"{name}.py"

    return add


@pytest.mark.parametrize(("source", "line", "error"), [
    ("import os\ndef broken(:\n    pass\n", 2, "SyntaxError: invalid syntax"),
    ("import os\n\nX = undefined_name\n", 3, "NameError: name 'undefined_name' is not defined"),
    ("import ecomctl.not_a_module\n", 1, "ModuleNotFoundError: No module named 'ecomctl.not_a_module'"),
    ("import yaml_not_an_extra_module\n", 1,
     "ModuleNotFoundError: No module named 'yaml_not_an_extra_module'"),  # no extra provides it: a bug
])
def test_an_error_in_a_backend_module_is_one_line_naming_the_file(table, source, line, error):
    path = table(source)
    with pytest.raises(BrokenModule) as e:
        render.load_builtins()
    assert str(e.value) == f"{path}:{line}: render backend 'fake' cannot be loaded: {error}"
    res = runner.invoke(app, ["models", "check", "-b", "compose"])
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"error: {path}:{line}: render backend 'fake' cannot be loaded: {error}"]


def test_a_missing_optional_package_hides_the_backend_and_names_the_extra(table, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers → ModuleNotFoundError
    table("import diffusers\nfrom ecomctl.render import BACKENDS\nBACKENDS.add('fake', object)\n")
    render.load_builtins()
    assert "fake" not in render.BACKENDS.names() and "compose" in render.BACKENDS.names()
    why = "render backend 'fake' unavailable: needs diffusers (not installed): pip install 'ecomctl[models]'"
    with pytest.raises(BackendUnavailable) as e:
        render.BACKENDS.get("fake")
    assert str(e.value) == why
    res = runner.invoke(app, ["models", "check", "-b", "fake"])
    assert (res.exit_code, res.stderr.splitlines()) == (2, [f"error: {why}"])


def test_a_syntax_error_in_a_shipped_backend_module_stops_the_command_naming_it(tmp_path):
    """The real package, copied, with a typo in sdxs.py: `models check` of another backend says so (was a
    traceback, and before that "unknown render backend")."""
    shutil.copytree(ROOT / "ecomctl", tmp_path / "ecomctl", ignore=shutil.ignore_patterns("__pycache__"))
    sdxs = tmp_path / "ecomctl" / "render" / "diffusion" / "sdxs.py"
    lines = sdxs.read_text(encoding="utf-8").splitlines()
    sdxs.write_text("\n".join([*lines, "def broken(:", ""]), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "ecomctl", "models", "check", "-b", "compose"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 2, res.stderr
    where = f"ecomctl/render/diffusion/sdxs.py:{len(lines) + 1}"
    line = f"error: {where}: render backend 'sdxs' cannot be loaded: SyntaxError: invalid syntax"
    assert res.stderr.splitlines() == [line]


def test_bench_and_the_tiny_models_take_their_backends_from_the_table():
    from ecomctl.bench.arch import BUILDERS
    from ecomctl.render.diffusion.common import DiffusionBackend
    from tests.tiny_models import NAMES

    render.load_builtins()
    assert sorted(b.name for b in render.BUILTIN) == render.BACKENDS.names()
    with_model = [b.name for b in render.BUILTIN if b.arch]
    assert list(BUILDERS) == with_model and list(NAMES) == with_model
    diffusion = [n for n in render.BACKENDS.names() if isinstance(render.BACKENDS.get(n), type)
                 and issubclass(render.BACKENDS.get(n), DiffusionBackend)]
    assert sorted(diffusion) == sorted(with_model)
    assert render.default_settings("sdxs")["steps"] == 1 and render.default_settings("compose") is None


def test_the_optional_extractor_follows_the_same_rule(monkeypatch):
    """grounded-sam was hidden on any ImportError; a fault in its own module is now one line naming it."""
    from ecomctl import registry, subject

    real = importlib.import_module

    def broken(name: str):
        if name == "ecomctl.subject.grounded_sam":
            raise SyntaxError("invalid syntax", ("ecomctl/subject/grounded_sam.py", 7, 3, "def x(:", 7, 4))
        return real(name)

    monkeypatch.setattr(registry.importlib, "import_module", broken)
    with pytest.raises(BrokenModule) as e:
        subject._load_builtins()
    assert str(e.value) == ("ecomctl/subject/grounded_sam.py:7: subject extractor 'grounded-sam' cannot be "
                            "loaded: SyntaxError: invalid syntax")
