# runhook: `make demo` and `make test` are the quick start; both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest fuzz bench bench-quick soak clean services

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/runhook demo

## test: everything CI runs: format check, lint, strict types, the whole suite
test: $(STAMP) services lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/python .ci/typecheck

pytest: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term:skip-covered

## fuzz: the fuzz suite with many more examples (make test runs 200 per fuzz test)
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz nice $(BIN)/pytest tests/fuzz -q -p no:cacheprovider

## services: make sure the binaries the suite starts for itself are present (redis-server, chromium)
services:
	@(command -v redis-server && test -x /usr/bin/chromium) >/dev/null 2>&1 || bash .ci/install-services

## soak: the exactly-once and crash scenarios SOAK_RUNS times in a row with one core kept busy
SOAK_RUNS ?= 20
soak: $(STAMP) services
	bash .ci/soak $(SOAK_RUNS)

## bench: the benchmarks, every party in its own process (see README, Performance)
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
