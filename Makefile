# iamlayer: one command per task. `make demo` and `make test` work on a fresh machine: they
# create .venv and install exactly the versions in uv.lock, each only what it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# make test runs 4 workers on the 2-core machine: most of its tests wait (on subprocesses, the
# emulator, backoff), so 4 finish sooner than 2 (6 measured no faster); the proofs time what they
# measure, so 2. --dist worksteal: xdist's default hands each worker a run of consecutive tests
# first, so the first two workers got every long end-to-end test and ran for 340 s while the
# other two were idle after 60 s; stealing from a busy worker's queue evens them out.
TEST_WORKERS  ?= 4
PROOF_WORKERS ?= 2
DIST          := --dist worksteal

# uv installs from the lock file (uv.lock) in seconds; it is taken from the PATH, else installed
# once with pip into .uv/ (one 18 MB wheel from PyPI). `make lock` updates uv.lock after a change
# to pyproject.toml's dependencies.
UV_VERSION := 0.13.9
UV ?= $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# --locked: refuse to run when uv.lock no longer matches pyproject.toml (run `make lock`).
# --inexact: what another target installed stays (make demo in a development checkout keeps mypy).
SYNC = $(UV) sync --locked --inexact --quiet

.PHONY: install demo test proof test-fast lint format bench lock uv system-deps clean

uv:
	@command -v $(UV) >/dev/null 2>&1 || $(PYTHON) -m pip install -qq --root-user-action=ignore --target .uv "uv==$(UV_VERSION)"

## Everything: the emulator, the test tools, the action catalogue, linters and type stubs.
install: uv
	$(SYNC) --all-extras

## The whole flow against the embedded AWS emulator: init, validate, plan, apply, outputs.
## Installs only iamlayer and the emulator (the sandbox extra).
demo: uv
	$(SYNC) --extra sandbox
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

## The test suite (under 5 minutes on 2 cores): unit, integration (moto server over HTTP) and
## end-to-end (the CLI, gpg, aws), and mypy on the library's README example. The long proofs are
## `make proof`. A test skipped for a reason tests/conftest.py does not expect fails the run.
## Installs the emulator, the test tools (pytest, awscli, principalmapper, mypy) and the catalogue.
test: uv system-deps
	$(SYNC) --extra sandbox --extra dev
	IAMLAYER_STRICT_SKIPS=1 $(BIN)/pytest -n $(TEST_WORKERS) $(DIST) -q -m "not proof" --durations=10

## The long proofs (tests marked `proof`): convergence under kills, lost answers and the realistic
## harness, the Terraform migration, the harness's self-tests and the evaluator cross-check.
proof: uv system-deps
	$(SYNC) --extra sandbox --extra dev
	IAMLAYER_STRICT_SKIPS=1 $(BIN)/pytest -n $(PROOF_WORKERS) $(DIST) -q -m proof --durations=10

## Only the fast, pure unit tests.
test-fast: uv
	$(SYNC) --extra sandbox --extra test --extra catalog
	$(BIN)/pytest -q tests/unit

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## Wall time, API calls and peak memory of plan/apply against the emulator (see bench/README.md).
bench: uv
	$(SYNC) --extra sandbox
	$(BIN)/python bench/bench_plan.py --users 1000 --keys 10 --repeat 3
	$(BIN)/python bench/bench_plan.py --users 5000 --keys 10 --repeat 3
	$(BIN)/python bench/bench_plan.py --org --accounts 50 --roles 10 --users 200 --repeat 3

## After changing dependencies in pyproject.toml: resolve them again into uv.lock.
lock: uv
	$(UV) lock

clean:
	rm -rf $(VENV) .uv .pytest_cache .mypy_cache .ruff_cache build *.egg-info src/*.egg-info
