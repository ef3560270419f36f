# iamlayer: one command per task. `make demo` and `make test` work on a fresh machine:
# they create .venv and install the project (with the emulator and test extras) as needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-fast lint format bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The whole flow against the embedded AWS emulator: init, validate, plan, apply, outputs.
demo: install
	$(BIN)/iamlayer demo

## Programs the tests use as a person would: gpg (decrypting), chromium (the HTML audit report).
system-deps:
	@missing=""; \
	command -v gpg >/dev/null 2>&1 || missing="$$missing gnupg"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing (install them with apt-get; tests that need them are skipped)"; fi; \
	fi

## The whole test suite: unit, integration (moto server over HTTP) and end-to-end (the CLI, gpg, aws).
test: install system-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

## Only the fast, pure unit tests.
test-fast: install
	$(BIN)/pytest -q tests/unit

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## API calls, wall time and peak memory of plan/apply for 100 and 1,000 users (see bench/README.md).
bench: install
	$(BIN)/python bench/bench_plan.py --users 100 1000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info src/*.egg-info
