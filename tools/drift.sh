#!/usr/bin/env bash
# Drift check: the default install from the NEWEST releases (no constraints.txt), then the core-install
# tests against it (usage errors, missing extras, a real render). Shows which pins moved. Exit 1 on failure:
# a new upstream release (typer dropping click, OpenCV 5 …) would break users who `pip install ecomctl` today.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PY="${PY:-.venv/bin/python}"  # runs pytest; the subprocesses use the drift venv's ecomctl
VENV=.venv-drift
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q --upgrade .
echo "drift: newest releases vs constraints.txt (pinned -> newest):"
"$VENV/bin/python" -m pip freeze | sed -E 's/\+.*//' | sort -f > "$VENV/freeze.txt"
awk -F'==' 'NR==FNR { if ($0 !~ /^#/) pin[tolower($1)] = $2; next }
            (tolower($1) in pin) && pin[tolower($1)] != $2 { printf "  %s %s -> %s\n", $1, pin[tolower($1)], $2; n++ }
            END { if (!n) print "  (none)" }' constraints.txt "$VENV/freeze.txt"
ECOMCTL_CORE_VENV="$PWD/$VENV" "$PY" -m pytest -q -p no:cacheprovider tests/test_core_install.py
