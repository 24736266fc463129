# Sluice: serverless document ingestion and vector search.
# `make demo` runs the pipeline end to end on the embedded defaults; `make test` runs the suite.

SHELL := /bin/bash
UV ?= uv
STACK_DIR ?= $(CURDIR)/.sluice
PORTS ?=
export UV_LINK_MODE ?= copy

.PHONY: help setup tools up down status demo test test-fast lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

tools:  ## install what a fresh machine lacks: uv (PyPI), redis-server (apt)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }

setup: tools  ## install the tools and the locked Python environment
	$(UV) sync --frozen

up: setup  ## start Redis, milvus-lite, the functions and the workers on 127.0.0.1
	$(UV) run --frozen python -m dev.stack up --dir $(STACK_DIR) $(PORTS)

down:  ## stop everything `make up` started
	@if [ -d .venv ]; then $(UV) run --frozen python -m dev.stack down --dir $(STACK_DIR); fi

status:  ## show which local processes run
	$(UV) run --frozen python -m dev.stack status --dir $(STACK_DIR)

demo: up  ## bring the stack up, ingest sample documents, wait until indexed
	$(UV) run --frozen python -m dev.demo

test: setup  ## run the whole test suite (starts its own stack on free ports)
	$(UV) run --frozen pytest

test-fast: setup  ## the tests that need no running stack
	$(UV) run --frozen pytest -m "not stack"

lint: setup  ## ruff and mypy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy shared/sluice

format: setup  ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

bench: setup  ## pipeline vs direct throughput (starts its own stack)
	$(UV) run --frozen python bench/pipeline_throughput.py $(BENCH_ARGS)

clean: down  ## stop the stack and remove its data and logs
	rm -rf $(STACK_DIR)
