# Two entry points, each doing all of its own set-up (see README Quickstart):
#   make serve   -> .venv + runtime deps, then `panel serve app` on 127.0.0.1
#   make test    -> .venv + test deps (+ Debian chromium when root), then the whole pytest suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5006
PYTEST_ARGS ?=
export JAX_PLATFORMS ?= cpu

.PHONY: serve test venv lint browser bench thumbnails clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python >= 3.11) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamps re-install when pyproject.toml changes.
$(VENV)/.runtime-installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	@touch $@ $(VENV)/.runtime-installed

venv: $(VENV)/.runtime-installed

# `snnviz serve` runs `panel serve app` with the flags of snnviz.serving.serve_command
# (127.0.0.1, one process, websocket origins, closed sessions reaped within ~5 s).
serve: $(VENV)/.runtime-installed
	$(BIN)/snnviz serve --port $(PORT)

# Real-browser tests need Debian's chromium (never `playwright install`: it downloads a browser).
browser:
	@bash scripts/ensure_chromium.sh

test: $(VENV)/.test-installed browser
	$(BIN)/ruff check .
	bash scripts/run_pytest.sh $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(VENV)/.test-installed browser
	$(BIN)/python -m benchmarks.run_all

thumbnails: $(VENV)/.test-installed browser
	$(BIN)/python scripts/make_screenshots.py

clean:
	rm -rf $(VENV) .cache build *.egg-info test-artifacts
