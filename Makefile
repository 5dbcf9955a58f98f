# Two set-up commands: `make demo` (install + render the demo manifest) and `make test` (install + tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
OUT ?= out/demo

.PHONY: demo test install install-test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(PY)
	$(PIP) install -q -e .

# torch is pinned to the CPU wheel for tests/CI only; users install the torch build for their GPU.
install-test: $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[models,dataset,ray,dev]'

demo: install
	$(VENV)/bin/ecomctl render manifests/demo.csv --out $(OUT)

test: install-test
	$(PY) -m pytest -q

lint: $(PY)
	$(VENV)/bin/ruff check ecomctl tests

clean:
	rm -rf out .pytest_cache
