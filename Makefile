# The two commands of README.md: `make serve` and `make test`. Everything else is their parts.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ORGANISATION ?= Δήμος Χανίων
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test check lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "eprotocol needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

## Run the server on the embedded defaults (SQLite, local files, index under ./var).
serve: $(STAMP)
	scripts/install-system-deps runtime
	$(BIN)/eprotocol init --organisation "$(ORGANISATION)"
	$(BIN)/eprotocol serve --host $(HOST) --port $(PORT)

## Install everything needed and run linters, type checks and the whole test suite.
test: $(STAMP)
	scripts/install-system-deps test
	$(MAKE) --no-print-directory check pytest

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

## Benchmarks (not part of the test suite; some take minutes): each prints its figures
## beside its same-run baseline, for BENCHMARKS.md. `make bench BENCH=intake` runs one.
BENCH ?= numbering intake digest search certificates api statistics_page disposal soak
bench: $(STAMP)
	@for name in $(BENCH); do echo "== bench.$$name"; $(BIN)/python -m bench.$$name || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
