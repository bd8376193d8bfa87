#!/usr/bin/env bash
# One command on a fresh machine: install everything, lint, type-check and run every test.
# Extra arguments go to pytest (e.g. `-m "not slow"` for the fast ones only).
set -euo pipefail
cd "$(dirname "$0")/.."
# checkov gets its own virtualenv (its pins clash with Prefect's); it installs while setup runs
# (about 30 s of a fresh clone's 2 minutes before the first test).
checkov_log="$(mktemp)" checkov_pid=""
if [ ! -x .venv-checkov/bin/checkov ]; then
  ("${PYTHON:-python3}" -m venv .venv-checkov &&
    .venv-checkov/bin/pip install -q --disable-pip-version-check checkov==3.3.30) \
    >"$checkov_log" 2>&1 &
  checkov_pid=$!
fi
bash scripts/setup.sh
if [ -n "$checkov_pid" ] && ! wait "$checkov_pid"; then
  cat "$checkov_log" >&2
  echo "error: installing checkov into .venv-checkov failed (above)" >&2
  exit 1
fi
rm -f "$checkov_log"
source scripts/env.sh
.venv/bin/ruff check bootstrap_flows bootstrap_local tests bench deployments
.venv/bin/ruff format --check bootstrap_flows bootstrap_local tests bench deployments
.venv/bin/mypy
# The architecture contract: the product never imports the embedded default (pyproject.toml).
.venv/bin/lint-imports
# Modules run side by side on TEST_WORKERS processes, each with a local stack of its own; most
# of a slow test's time is waiting on the provider, heartbeats and polls, so two cores carry five
# (README, Testing). TEST_WORKERS=0 runs everything in this process.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-5}" --dist loadscope --no-loadscope-reorder "$@"
