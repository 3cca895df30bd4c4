# Sentinel — two commands: `make demo` and `make test`. Each bootstraps what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export RAY_USAGE_STATS_ENABLED := 0
export RAY_USAGE_STATS_REPORT_URL := http://127.0.0.1:9/

.PHONY: demo test lint unit integration bench bootstrap clean

bootstrap: $(STAMP) redis-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

# torch first and pinned: the CPU build lies on disk; anything else pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	@if $(BIN)/python -m pip list 2>/dev/null | grep -qi nvidia; then echo "error: a CUDA build of torch slipped in (nvidia-* packages)"; exit 1; fi
	touch $(STAMP)

.PHONY: redis-server
redis-server:
	@bash scripts/ensure-redis.sh

lint: bootstrap
	$(BIN)/ruff check sentinel tests bench
	$(BIN)/mypy sentinel
	$(BIN)/lint-imports

unit: bootstrap
	$(BIN)/pytest tests/unit

integration: bootstrap
	$(BIN)/pytest tests/integration

test: bootstrap lint
	$(BIN)/pytest tests

demo: bootstrap
	$(BIN)/sentinel demo

# Each prints its comparison side by side; the figures in README.md come from these.
bench: bootstrap
	$(BIN)/python bench/event_bus.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/wake.py
	$(BIN)/python bench/wake.py --time-scale 10 --reps 3  # the scaled-clock target is checkable at x10
	$(BIN)/python bench/ml.py

clean:
	rm -rf $(VENV) .sandbox .pytest_cache .mypy_cache .ruff_cache
