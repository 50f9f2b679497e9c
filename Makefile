# One place for the kit's tasks. `make demo` and `make test` work on a fresh Debian machine
# that has python3 (3.11+) and make; everything else is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: install browser demo test lint typecheck pytest bench fuzz wheel lock clean

# Debian's own python3 ships venv separately (python3-venv): install it when venv is missing.
# The lock holds every extra ([all]: notebook and reports) and the dev tools, so `make demo` and
# `make test` get everything; the kit itself is installed editable on top, without deps.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV) || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-venv && \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium drives the browser tests and prints the PDF reports.
browser:
	@if [ -x /usr/bin/chromium ] && command -v pdftoppm >/dev/null; then \
		echo "chromium and poppler-utils already installed"; \
	else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver poppler-utils fonts-dejavu-core; \
	fi

# The main job on the shipped data: list and validate the catalog, check every file against the
# manifest, print the data-quality report, then write the research report (HTML + PDF).
demo: install browser
	$(BIN)/omni-research catalog --root data_test
	$(BIN)/omni-research validate --root data_test
	$(BIN)/omni-research verify --root data_test
	$(BIN)/omni-research quality --root data_test
	$(BIN)/omni-research report --root data_test

lint: install
	$(BIN)/ruff check omni_research tests benchmarks
	$(BIN)/ruff format --check omni_research tests benchmarks
	$(BIN)/nbstripout --verify notebooks/*.ipynb

typecheck: install
	$(BIN)/mypy

pytest: install browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test: lint typecheck pytest

bench: install
	$(BIN)/python benchmarks/bench_validation.py
	$(BIN)/python benchmarks/bench_indicators.py
	$(BIN)/python benchmarks/bench_bars.py
	$(BIN)/python benchmarks/bench_backtest.py
	$(BIN)/python benchmarks/bench_sources.py
	$(BIN)/python benchmarks/bench_chart.py --browser
	$(BIN)/python benchmarks/bench_object_store.py
	$(BIN)/python benchmarks/bench_encryption.py
	$(BIN)/python benchmarks/bench_engines.py

# A long fuzz of the readers and the manifest parser (the test command runs a short one):
# mutated real files must end in a frame or the kit's own error. FUZZ_EXAMPLES=200000 for more.
FUZZ_EXAMPLES ?= 20000
fuzz: install
	$(BIN)/python benchmarks/fuzz_readers.py --examples $(FUZZ_EXAMPLES)

# The wheel users install (it ships data_test/ inside the package; see setup.py).
wheel: install
	$(BIN)/uv build --wheel -o dist .

# Re-pin every dependency of every extra after a change to pyproject.toml.
lock: install
	$(BIN)/uv pip compile --quiet pyproject.toml --extra all --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
