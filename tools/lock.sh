#!/usr/bin/env bash
# Refresh constraints.txt: resolve the newest releases of everything `make test` installs in a fresh venv,
# then freeze it (local version labels such as +cpu dropped, so the pin matches any build of that version).
# Run `make test` afterwards and commit constraints.txt only if it passes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-lock
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"  # the CPU wheel CI tests with
"$VENV/bin/python" -m pip install -q -e '.[models,dataset,ray,dev]'
{
  echo "# Pins for make demo / make test / CI (pip install -c constraints.txt). Refresh: make lock."
  echo "# Resolved on CPython $("$VENV/bin/python" -c 'import platform; print(platform.python_version(), platform.system(), platform.machine())')."
  "$VENV/bin/python" -m pip freeze --exclude-editable | sed -E 's/^([^=]+==[^+]+)\+.*/\1/' | sort -f
} > constraints.txt
rm -rf "$VENV"
echo "constraints.txt: $(grep -c '==' constraints.txt) pins"
