"""The install a new user gets: the `ecomctl` console script of a venv holding only the default install
(`pip install .`, no extras, so no click, torch or pyarrow), run in a subprocess.

`.ci/run` builds that venv (`make core-venv`) and sets ECOMCTL_CORE_VENV, so CI runs these for real; the
newest-releases drift check (`make drift`) runs them against a venv built without the constraints file.
Locally, without the variable, they skip."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_hostile_cli import CASES, check, prepare

VENV = os.environ.get("ECOMCTL_CORE_VENV")
pytestmark = pytest.mark.skipif(not VENV, reason="ECOMCTL_CORE_VENV not set (.ci/run and `make test-core` set it)")

# every usage error and missing extra, and a sample of the output and config cases, through the real script
PICKED = [c for c in CASES if not c.env and (c.blocked or c.id in {
    "unknown-option", "unknown-command", "missing-argument", "workers-not-int", "option-without-value",
    "unknown-subcommand", "missing-required-option", "root-unknown-option", "workers-zero", "bench-bad-scale",
    "out-is-a-file", "out-dev-null", "out-proc", "eval-json-is-a-folder",
    "size-1x1", "item-timeout-negative", "font-not-a-font"})]


def _script() -> Path:
    script = Path(VENV) / "bin" / "ecomctl"
    assert script.is_file(), f"{script}: the core venv is missing (make core-venv)"
    return script


def _run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMCTL__")}
    return subprocess.run([str(_script()), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout, check=False)


def test_core_venv_has_no_extras():
    py = Path(VENV) / "bin" / "python"
    probe = "import importlib.util as u; print([m for m in ('click', 'torch', 'pyarrow', 'diffusers', 'ray') if u.find_spec(m)])"
    res = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


@pytest.mark.parametrize("case", PICKED, ids=[c.id for c in PICKED])
def test_installed_script_one_line_exit_2(case, tmp_path: Path):
    argv = prepare(case, tmp_path)
    res = _run(*argv, cwd=tmp_path)
    check(case, tmp_path, res.returncode, res.stdout, res.stderr)


def test_installed_script_renders_a_poster(tmp_path: Path):
    """The default install's happy path: compose backend, classical extraction, OCR QA, reports."""
    (tmp_path / "m.csv").write_text(
        "sku,image,title,price,size,variants\n"
        f"J1,{ROOT / 'manifests' / 'assets' / '571507774301.png'},Night Serum,$29,512x512,1\n", encoding="utf-8")
    res = _run("render", "m.csv", "--out", "out", cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "out" / "J1" / "J1-v1.png").is_file()
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert [i["status"] for i in report["items"]] == ["pass"]
    assert _run("--version", cwd=tmp_path).stdout.startswith("ecomctl ")
