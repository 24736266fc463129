#!/usr/bin/env bash
# Runs the tests that need no running stack (pytest -m "not stack") on Python 3.13, the Python
# of the images (python:3.13-slim), in its own environment beside the 3.11 one:
# .sluice/venv-py313, synced from uv.lock with --frozen (dev group included, as for `make test`).
#
# The interpreter: $PYTHON313 if set (not SLUICE_-prefixed: sluice.settings rejects SLUICE_
# variables that name no setting), else `uv python find 3.13`, else python3.13 on PATH,
# else a pyenv-installed 3.13; uv never downloads one (UV_PYTHON_DOWNLOADS=never), so a machine
# without 3.13 fails here with a message instead of fetching a toolchain.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export UV_PYTHON_DOWNLOADS=never
VENV="$ROOT/.sluice/venv-py313"

fail() { echo "check_py313: FAIL: $*" >&2; exit 1; }
command -v uv >/dev/null || fail "uv is not installed (run: make setup)"

# Prints the interpreter's path if it runs and is CPython 3.13.
is_313() {
  [[ -n "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null \
    && echo "$1"
}

find_python313() {
  local candidate
  # A pyenv shim answers `uv python find` and PATH look-ups but fails when 3.13 is not the
  # active pyenv version, hence each candidate is run, not just found.
  candidate=$(uv python find --no-project 3.13 2>/dev/null || true)
  is_313 "$candidate" && return
  candidate=$(command -v python3.13 || true)
  is_313 "$candidate" && return
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do
    is_313 "$candidate" && return
  done
  return 1
}

if [[ -n "${PYTHON313:-}" ]]; then
  PYTHON=$(is_313 "$PYTHON313") \
    || fail "PYTHON313=$PYTHON313 is not a working Python 3.13"
else
  PYTHON=$(find_python313) || fail "no Python 3.13 found (tried uv python find 3.13, python3.13 on PATH, pyenv's versions): install one (e.g. pyenv install 3.13) or set PYTHON313"
fi
echo "check_py313: $("$PYTHON" -V) at $PYTHON; environment $VENV"

export UV_PROJECT_ENVIRONMENT="$VENV"
uv sync --frozen --quiet --python "$PYTHON" || fail "uv sync --frozen on Python 3.13 failed"
uv run --frozen --no-sync python -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version' \
  || fail "$VENV does not run Python 3.13"
uv run --frozen --no-sync pytest -m "not stack" -q -p no:cacheprovider "$@" \
  || fail 'pytest -m "not stack" failed on Python 3.13'
echo "check_py313: OK"
