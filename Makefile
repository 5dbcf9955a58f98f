# Two set-up commands: `make demo` (install + render the demo manifest) and `make test` (install + tests).
# Both install the versions pinned in constraints.txt (refresh with `make lock`); `make drift` tries the
# newest releases instead.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS ?= constraints.txt
CORE_VENV ?= .venv-core
OUT ?= out/demo

.PHONY: demo test install install-test core-venv test-core lock drift lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(PY)
	$(PIP) install -q -c $(CONSTRAINTS) -e .

# torch is pinned to the CPU wheel for tests/CI only; users install the torch build for their GPU.
install-test: $(PY)
	$(PIP) install -q -c $(CONSTRAINTS) torch==2.13.0
	$(PIP) install -q -c $(CONSTRAINTS) -e '.[models,dataset,ray,dev]'

# the default install alone (no extras), as a user gets it: tests/test_core_install.py runs its `ecomctl`
core-venv:
	rm -rf $(CORE_VENV)
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q -c $(CONSTRAINTS) .

test-core: install-test core-venv
	ECOMCTL_CORE_VENV=$(abspath $(CORE_VENV)) $(PY) -m pytest -q tests/test_core_install.py

# re-resolve constraints.txt from the newest releases (then run `make test` before committing it)
lock:
	PYTHON=$(PYTHON) tools/lock.sh

# the newest releases (no constraints) of the default install, checked by tests/test_core_install.py
drift: install-test
	PYTHON=$(PYTHON) PY=$(PY) tools/drift.sh

demo: install
	$(VENV)/bin/ecomctl render manifests/demo.csv --out $(OUT)

test: install-test
	$(PY) -m pytest -q

# ruff comes with the dev extra (install-test); its rules and exceptions: pyproject.toml [tool.ruff.lint]
lint: install-test
	$(VENV)/bin/ruff check ecomctl tests

clean:
	rm -rf out .pytest_cache $(CORE_VENV) .venv-drift .venv-lock
