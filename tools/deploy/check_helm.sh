#!/usr/bin/env bash
# Checks the Helm chart helm/sluice offline:
#   1. every key of values.yaml is documented with `## @param` (and every @param names a key);
#   2. `helm lint --strict` (values validated against values.schema.json) for each
#      ci/*-values.yaml;
#   3. `helm template` of each, written to $RENDERED_DIR/helm-<name>.yaml for
#      check_knative.sh (kubeconform with the CRD schemas, Knative's own validation), plus
#      sanity checks on the output: no duplicate objects, no empty or repeated env variables,
#      consistent labels, Deployment selectors that match their pods, and per values set the
#      objects that must (not) be there;
#   4. negative cases that must fail, each with its own message: a value of the wrong type and
#      a misspelt key (values.schema.json), a worker grace period shorter than the longest
#      delivery, half of an inline Redis credential, the bare defaults (published endpoints
#      without API keys) and no Redis credentials (template `fail`s).
# Needs helm in $TOOLS_DIR (`make deploy-tools`) and the uv environment (`make setup`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CHART=helm/sluice
HELM="${TOOLS_DIR:-$ROOT/.sluice/tools}/helm"
RENDERED="${RENDERED_DIR:-$ROOT/.sluice/rendered}"
# helm built with `go install` reports Kubernetes v1.20 as the cluster version unless told.
KUBE_VERSION=1.34.0  # Knative Serving v0.50 needs Kubernetes >= 1.34
RELEASE=sluice
NAMESPACE=sluice

fail() { echo "check_helm: FAIL: $*" >&2; exit 1; }
[[ -x "$HELM" ]] || fail "no helm at $HELM (run: make deploy-tools)"
[[ -f "$CHART/files/routing.yaml" ]] || fail "$CHART/files/routing.yaml is missing (run: make manifests)"
command -v uv >/dev/null || fail "uv is not installed (run: make setup)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "== values.yaml: every key documented with ## @param"
uv run --frozen python tools/deploy/helm_checks.py params "$CHART/values.yaml"

mkdir -p "$RENDERED"
rm -f "$RENDERED"/helm-*.yaml

# name -> values file. The chart's bare defaults are a negative case below: an install must give
# API keys (or ask for none) and Redis's credentials (or ask for none).
declare -A SETS=()
for file in "$CHART"/ci/*-values.yaml; do
    [[ -e "$file" ]] || fail "no $CHART/ci/*-values.yaml"
    name="$(basename "$file" -values.yaml)"
    SETS[$name]="$file"
done

for name in $(printf '%s\n' "${!SETS[@]}" | sort); do
    file="${SETS[$name]}"
    args=(--kube-version "$KUBE_VERSION")
    [[ -n "$file" ]] && args+=(-f "$file")
    echo "== $name${file:+ ($file)}: helm lint --strict, helm template"
    "$HELM" lint --strict "$CHART" "${args[@]}" >"$TMP/lint.log" 2>&1 \
        || { cat "$TMP/lint.log" >&2; fail "helm lint --strict ($name)"; }
    "$HELM" template "$RELEASE" "$CHART" -n "$NAMESPACE" "${args[@]}" \
        >"$RENDERED/helm-$name.yaml" 2>"$TMP/template.log" \
        || { cat "$TMP/template.log" >&2; fail "helm template ($name)"; }
done

echo "== rendered objects: names, env, labels, selectors, expected objects per values set"
uv run --frozen python tools/deploy/helm_checks.py rendered "$RENDERED" "$CHART"

echo "== negative cases (each must fail)"
expect_failure() {  # description, the message expected, helm arguments...
    local what="$1" expected="$2"; shift 2
    if "$HELM" "$@" >"$TMP/neg.log" 2>&1; then
        fail "$what: helm $1 accepted it"
    fi
    # It must fail for the reason under test, not because the chart is broken otherwise.
    grep -qF -- "$expected" "$TMP/neg.log" \
        || { cat "$TMP/neg.log" >&2; fail "$what: helm $1 failed, but not with: $expected"; }
    echo "  ok, rejected: $what"
}
printf 'keda:\n  enabled: "yes"\n' >"$TMP/bad-type.yaml"
expect_failure "keda.enabled: \"yes\" (schema type)" "at '/keda/enabled': got string, want boolean" \
    lint --strict "$CHART" --kube-version "$KUBE_VERSION" -f "$TMP/bad-type.yaml"
printf 'workerr:\n  replicas: 2\n' >"$TMP/bad-key.yaml"
expect_failure "a misspelt top-level key (schema additionalProperties)" "additional properties 'workerr' not allowed" \
    lint --strict "$CHART" --kube-version "$KUBE_VERSION" -f "$TMP/bad-key.yaml"
printf 'worker:\n  terminationGracePeriodSeconds: 60\n' >"$TMP/short-grace.yaml"
expect_failure "worker grace period below the delivery timeout (template fail)" "is shorter than the longest delivery" \
    template "$RELEASE" "$CHART" -n "$NAMESPACE" --kube-version "$KUBE_VERSION" -f "$TMP/short-grace.yaml"
printf 'auth:\n  existingSecret: keys\nredis:\n  auth:\n    password: only-half\n' >"$TMP/half-redis.yaml"
expect_failure "an inline Redis password without its URL (template fail)" "redis.auth.url and redis.auth.password go together" \
    template "$RELEASE" "$CHART" -n "$NAMESPACE" --kube-version "$KUBE_VERSION" -f "$TMP/half-redis.yaml"

expect_failure "the bare defaults: published endpoints without API keys (template fail)" "no API keys are configured" \
    template "$RELEASE" "$CHART" -n "$NAMESPACE" --kube-version "$KUBE_VERSION"
printf 'auth:\n  existingSecret: keys\n' >"$TMP/no-redis-auth.yaml"
expect_failure "no Redis credentials (template fail)" "no Redis credentials" \
    template "$RELEASE" "$CHART" -n "$NAMESPACE" --kube-version "$KUBE_VERSION" -f "$TMP/no-redis-auth.yaml"

echo "check_helm: OK (rendered into $RENDERED)"
