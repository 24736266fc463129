#!/usr/bin/env bash
# Validate knative/ and the rendered Helm chart offline, twice:
#  1. kubeconform -strict against JSON Schemas that reject unknown fields: Kubernetes objects
#     against the API schemas of PyPI's kubernetes-validate, Knative / KEDA / Prometheus-operator
#     objects against their CRDs' openAPIV3Schema (tools/deploy/schemas.py builds both, cached
#     in .sluice/schemas). A kind with no schema is an error (no -ignore-missing-schemas).
#  2. Knative's own SetDefaults + Validate, the code of its admission webhooks, on every Knative
#     Service, Broker, Trigger and SinkBinding (the Go test in tools/deploy/knative-validate).
# The rendered chart comes from tools/deploy/check_helm.sh (make check-helm) in $RENDERED_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TOOLS=${TOOLS_DIR:-$ROOT/.sluice/tools}
RENDERED=${RENDERED_DIR:-$ROOT/.sluice/rendered}
KUBECONFORM=$TOOLS/kubeconform

fail() { echo "check_knative: $*" >&2; exit 1; }

[[ -x $KUBECONFORM ]] || fail "$KUBECONFORM not found: run make deploy-tools"
command -v go >/dev/null || fail "go not found (Go 1.26 is needed for Knative's validation)"

shopt -s nullglob
knative_files=(knative/*.yaml)
((${#knative_files[@]})) || fail "no manifests in knative/"
mapfile -t rendered_files < <(find "$RENDERED" -name '*.yaml' -type f 2>/dev/null | sort)
manifest_dirs=knative
if ((${#rendered_files[@]})); then
  manifest_dirs+=":$RENDERED"
elif [[ -f helm/sluice/Chart.yaml ]]; then
  fail "no rendered chart in $RENDERED: run make check-helm first"
else
  echo "check_knative: no Helm chart yet (helm/sluice/Chart.yaml): checking knative/ only"
fi

echo "== schemas: kubeconform -strict (${#knative_files[@]} files in knative/, ${#rendered_files[@]} rendered)"
schemas=$(uv run --frozen python tools/deploy/schemas.py --cache "$ROOT/.sluice/schemas")
# CRDs first, by full group: a CRD kind must never match a Kubernetes schema whose kind and
# first group segment happen to be the same (e.g. Knative's networking.internal Ingress).
"$KUBECONFORM" -strict -summary \
  -schema-location "$schemas/crds/{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json" \
  -schema-location "$schemas/k8s/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
  "${knative_files[@]}" "${rendered_files[@]}"

echo "== Knative webhook validation: SetDefaults + Validate (go test)"
# The first run downloads and compiles knative.dev/serving and eventing (a few minutes); later
# runs use Go's module and build caches and take seconds.
if ! out=$(cd tools/deploy/knative-validate &&
  SLUICE_MANIFEST_DIRS=$manifest_dirs go test -count=1 -v ./... 2>&1); then
  grep -v '^=== ' <<<"$out" >&2
  fail "Knative rejects a manifest (see above)"
fi
grep -E -e '--- PASS: .*/|objects validated|warning|^ok' <<<"$out"
echo "check_knative: OK"
