#!/usr/bin/env bash
# make check-observability: every observability config checked by a real parser, offline.
#   1. promtool (Debian's 2.42): the compose Prometheus config as compose mounts it (its
#      rule_files included), the rules, and the rule unit tests that fire and resolve every alert;
#   2. every dashboard's PromQL parses (as recording rules, through promtool);
#   3. the Alloy configs parse with Alloy's own syntax parser and their references resolve;
#      the Loki config uses only keys Loki 3.7 knows; compose.yaml keeps its promises;
#   plus the unit tests of these checkers (each proves its check can fail).
# The dashboards, the Prometheus rules and the Kubernetes Alloy config live in the Helm chart
# (helm/sluice/files/, their only copy: a chart cannot read outside its folder); the rest is
# under conf/observability/.
# Needs: promtool (make observability-tools), Go, the uv environment (make setup).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OBS="$ROOT/conf/observability"
CHART_FILES="$ROOT/helm/sluice/files"
cd "$ROOT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'check-observability: %s\n' "$*" >&2; exit 1; }

command -v promtool >/dev/null || fail "promtool not found: run 'make observability-tools'"
command -v go >/dev/null || fail "go not found (Go 1.26 is needed for the Alloy parser)"
command -v uv >/dev/null || fail "uv not found: run 'make setup'"

step "promtool check config (compose's Prometheus, laid out as its bind mounts put it)"
# rule_files are resolved relative to the config: checked where compose mounts both, a rules
# mount that the config does not find fails here instead of leaving Prometheus without rules.
uv run --frozen python tools/observability/compose_policy.py --stage prometheus "$TMP/prometheus"
promtool check config "$TMP/prometheus/etc/prometheus/prometheus.yml" | tee "$TMP/config.log"
grep -qE 'SUCCESS: [1-9][0-9]* rule files found' "$TMP/config.log" \
  || fail "compose's Prometheus finds no rule files (rule_files vs. its volumes)"

step "promtool check rules"
promtool check rules "$CHART_FILES"/rules/*.yml

step "promtool test rules (every alert fires and resolves)"
promtool test rules "$OBS"/prometheus/tests/*.yml

step "dashboard PromQL parses"
uv run --frozen python tools/observability/promql.py

step "Alloy configs: Alloy's syntax parser + reference check"
(cd tools/observability/alloy-check && go test ./... && go run . "$OBS"/alloy/*.alloy "$CHART_FILES"/alloy/*.alloy)

step "Loki config keys"
uv run --frozen python tools/observability/loki_config.py check "$OBS/loki/loki.yaml"

step "compose policy"
uv run --frozen python tools/observability/compose_policy.py

step "unit tests of the checkers"
uv run --frozen pytest -q -p no:cacheprovider tools/observability/tests

printf '\ncheck-observability: all passed\n'
