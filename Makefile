# Sluice: serverless document ingestion and vector search.
# `make demo` runs the pipeline end to end on the embedded defaults; `make test` runs the suite.

SHELL := /bin/bash
UV ?= uv
STACK_DIR ?= $(CURDIR)/.sluice
PORTS ?=
export UV_LINK_MODE ?= copy

GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
KUBECONFORM_VERSION ?= v0.7.0
# Not SLUICE_-prefixed: the services refuse SLUICE_ variables that name no setting.
export TOOLS_DIR := $(CURDIR)/.sluice/tools
export RENDERED_DIR := $(CURDIR)/.sluice/rendered
GOBIN_DIR := $(TOOLS_DIR)

# embedder.models_dir: `make model MODEL=<name>` builds <MODEL_DIR>/<name>; without MODEL, all
# the catalogue's ONNX models (the tests check each; current ones cost ~0.1 s apiece)
MODEL_DIR ?= $(CURDIR)/.sluice/models
MODEL ?= all
WEB_DIR := searchapi/web

.PHONY: help setup tools deploy-tools observability-tools model web web-test chromium up down status demo test smoke test-fast go-test \
	lint go-lint format bench eval clean manifests check-manifests check-deploy check-images \
	check-helm check-knative check-compose compose-env check-py313 check-observability

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

tools:  ## install what a fresh machine lacks: uv (PyPI), redis-server (apt); check Go
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
	@command -v go >/dev/null || { echo "Go 1.26 is needed for searchapi (https://go.dev/dl/)"; exit 1; }

setup: tools  ## install the tools and the locked Python environment
	$(UV) sync --frozen

model: setup  ## build the ONNX embedding models once into .sluice/models/<name>: all of them, or MODEL=all-MiniLM-L6-v2 (the default embedder), all-MiniLM-L6-v2-int8, e5-small-v2 (docs/models.md)
	$(UV) run --frozen python tools/model/build.py --model $(MODEL) --models-dir $(MODEL_DIR)

# The console's dependencies, reinstalled (npm ci) only when the lock file changed.
$(WEB_DIR)/node_modules/.package-lock.json: $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && npm ci --no-audit --no-fund

web: $(WEB_DIR)/node_modules/.package-lock.json  ## build the web console (searchapi/web, Vite) into searchapi/web/dist, which searchapi embeds at its next build
	cd $(WEB_DIR) && npm run build

web-test: web  ## the console's unit tests (Vitest) and its size budget (initial JS <= 150 kB gzipped)
	cd $(WEB_DIR) && npm test && npm run check-budget

chromium:  ## Debian's chromium, the browser of the console's end-to-end tests (Playwright drives it)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

up: setup model web observability-tools  ## start Redis, milvus-lite, the functions, the workers, Prometheus and searchapi (with the console) on 127.0.0.1
	$(UV) run --frozen python -m dev.stack up --dir $(STACK_DIR) $(PORTS)

down:  ## stop everything `make up` started
	@if [ -d .venv ]; then $(UV) run --frozen python -m dev.stack down --dir $(STACK_DIR); fi

status:  ## show which local processes run
	$(UV) run --frozen python -m dev.stack status --dir $(STACK_DIR)

demo: up  ## bring the stack up, ingest sample documents, wait until indexed
	$(UV) run --frozen python -m dev.demo

# The smoke form's slice of SciFact (eval and the fusion grid read the same index)
EVAL_SLICE = $(if $(SMOKE),--embedder hashing --limit-docs 60 --judged-queries 10)

test: setup model web chromium lint go-test go-fuzz web-test check-deploy check-observability test-fast  ## the whole suite: lint, Go, the console's unit tests, deploy and observability checks, pytest (the console's browser tests among the stack tests), then every command in a quick form (`make smoke`)
	$(UV) run --frozen pytest -m stack
	$(MAKE) smoke

# What `make test` runs last, so that no command of `make help` or the README breaks unseen:
# the benchmark and the evaluation in their smoke form, the demo with the model, then status,
# down and clean; `make format` and `make manifests` must change nothing that is committed.
smoke: setup model  ## every user command in a quick form: bench and eval smoke runs, demo, status, down, clean, format, manifests
	$(MAKE) help >/dev/null
	$(MAKE) compose-env  # .sluice/compose.env (git-ignored): generated once, kept after
	$(MAKE) bench SMOKE=1
	$(MAKE) eval SMOKE=1 TUNE=1
	$(MAKE) demo
	$(MAKE) status
	$(MAKE) down
	$(MAKE) clean
	$(MAKE) format manifests
	@if [ -d .git ]; then git diff --exit-code --stat || { echo "make format / make manifests changed committed files"; exit 1; }; fi

go-test: setup  ## go vet and the Go unit tests of searchapi (the Milvus adapter's against milvus-lite)
	cd searchapi && go vet ./... && go test ./...

go-fuzz: setup  ## fuzz searchapi's filter builder for FUZZTIME (60s): no input widens the tenant clause or breaks the expression
	cd searchapi && go test -run '^$$' -fuzz='^FuzzFilter$$' -fuzztime=$(or $(FUZZTIME),60s) -fuzzminimizetime=1s ./internal/search/

test-fast: setup  ## the tests that need no running stack (Redis-only function tests included)
	$(UV) run --frozen pytest -m "not stack"

lint: setup go-lint  ## ruff, mypy --strict on shared/, functions/ and cli/, gofmt, golangci-lint
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy shared/sluice $(wildcard functions/*/sluice_*) cli/sluice_cli
	@# each main.py on its own: they are all modules named `main`
	@for main in functions/*/main.py; do $(UV) run --frozen mypy "$$main" || exit 1; done

go-lint:  ## gofmt and golangci-lint (installed into .sluice/tools on first use)
	@test -z "$$(gofmt -l searchapi)" || { gofmt -l searchapi; exit 1; }
	@test -x $(GOBIN_DIR)/golangci-lint || GOBIN=$(GOBIN_DIR) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	cd searchapi && $(GOBIN_DIR)/golangci-lint run ./...

format: setup  ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

# SMOKE=1: a few dozen documents (bench) or a small SciFact slice with the hashing embedder
# (eval), in seconds; what `make smoke` runs. Their figures are never asserted.
SMOKE ?=
bench: setup  ## pipeline vs direct throughput, then `make load`, `make recovery` and `make bench-files`; SMOKE=1: the quick forms
	$(UV) run --frozen python bench/pipeline_throughput.py $(if $(SMOKE),--docs 40 --batch 20) $(BENCH_ARGS)
	$(MAKE) load recovery bench-files bench-models

.PHONY: bench-models
bench-models: setup model  ## a model change (hashing -> MODEL_TO, default all-MiniLM-L6-v2) under searches: copy vs pipeline throughput, search p50/p99 before and during; SMOKE=1: 100 documents
	$(UV) run --frozen python bench/model_change.py $(if $(SMOKE),--quick) $(if $(MODEL_TO),--to $(MODEL_TO)) $(MODELS_ARGS)

.PHONY: bench-files
bench-files: setup model  ## the file parsers side by side, then `sluice ingest` of 500 mixed files (docs/s, extraction's share); SMOKE=1: quick forms
	$(UV) run --frozen python bench/extraction.py $(if $(SMOKE),--smoke)
	$(UV) run --frozen python bench/ingest_folder.py $(if $(SMOKE),--quick) $(FOLDER_ARGS)

# Each of these starts a stack of its own (a temporary folder, free ports) and always stops it;
# LOAD_ARGS, FLOOD_ARGS and RECOVERY_ARGS pass options to each script (`--help` lists them).
.PHONY: load load-tools recovery
load: setup model load-tools  ## searchapi under 200 connections for 60 s (wrk), then ingest flooded by 16 clients with 10,000 documents; SMOKE=1: quick forms
	$(UV) run --frozen python bench/load_searchapi.py $(if $(SMOKE),--quick) $(LOAD_ARGS)
	$(UV) run --frozen python bench/ingest_flood.py $(if $(SMOKE),--quick) $(FLOOD_ARGS)

recovery: setup  ## kill -9 each component mid-ingest: seconds from the restart until the indexed rate is back; SMOKE=1: two components
	$(UV) run --frozen python bench/recovery.py $(if $(SMOKE),--quick) $(RECOVERY_ARGS)

load-tools:  ## wrk, the HTTP load generator of `make load` (Debian's package)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }

QUERIES ?=
QRELS ?=
eval: setup model  ## SciFact through the real pipeline and searchapi: nDCG@10, Recall@100, latency per mode, and the previous defaults; SMOKE=1: 60 documents, hashing; TUNE=1: then the fusion grid (bench/tune_fusion.py)
	$(UV) run --frozen python bench/eval_scifact.py $(EVAL_SLICE) $(if $(SMOKE),--fresh) $(if $(QUERIES),--queries $(QUERIES)) $(if $(QRELS),--qrels $(QRELS)) $(EVAL_ARGS)
	$(if $(TUNE),$(UV) run --frozen python bench/tune_fusion.py $(EVAL_SLICE))

deploy-tools: setup  ## helm and kubeconform (Go module proxy) into .sluice/tools
	@test -x $(GOBIN_DIR)/helm || GOBIN=$(GOBIN_DIR) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@test -x $(GOBIN_DIR)/kubeconform || GOBIN=$(GOBIN_DIR) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

observability-tools:  ## prometheus and promtool (Debian's prometheus package, 2.42)
	@command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

manifests: setup  ## rewrite the Knative Triggers, the chart's routing.yaml copy and routes.yaml from conf/routing.yaml
	$(UV) run --frozen python tools/manifests.py

check-manifests: setup  ## fail if knative/ or helm/ disagree with conf/ (run `make manifests`)
	$(UV) run --frozen python tools/manifests.py --check

check-images: setup  ## hadolint on every Dockerfile (threshold warning) and the build-context test
	bash tools/deploy/check_images.sh

check-helm: deploy-tools  ## helm lint --strict; helm template for the default and every ci/*-values.yaml
	bash tools/deploy/check_helm.sh

check-knative: deploy-tools check-helm  ## knative/ and the rendered chart: schemas (kubeconform) and Knative's own validation
	bash tools/deploy/check_knative.sh

check-compose: setup  ## docker compose config -q (Compose v2 from PyPI, no daemon); refused without credentials
	$(UV) run --frozen python tools/observability/compose_policy.py --validate

compose-env: setup  ## write the credentials compose.yaml requires into .sluice/compose.env (generated; existing kept); use `docker compose --env-file .sluice/compose.env`
	$(UV) run --frozen python -m dev.compose_env

check-py313: setup model  ## the tests that need no stack, on Python 3.13 (the images' Python)
	bash tools/deploy/check_py313.sh

check-deploy: check-manifests check-images check-helm check-knative check-compose check-py313  ## every deploy validator

check-observability: setup observability-tools  ## promtool config/rules/tests, dashboard PromQL, Alloy and Loki configs
	bash tools/observability/check.sh

clean: down  ## stop the stack and remove its data and logs
	rm -rf $(STACK_DIR)/data $(STACK_DIR)/logs $(STACK_DIR)/run $(STACK_DIR)/bin  # the model stays
	rm -rf $(WEB_DIR)/dist/app $(WEB_DIR)/test-results  # the built console (node_modules stays)
