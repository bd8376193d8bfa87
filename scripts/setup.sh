#!/usr/bin/env bash
# Installs everything bootstrap-flows needs into .venv (idempotent; fast when already done).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v terraform >/dev/null; then
  echo "error: terraform is not on PATH. Install Terraform >= 1.10 and run again." >&2
  exit 1
fi
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))'; then
  echo "error: $PYTHON is not Python 3.11 or 3.12; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
# A Docker engine, a registry and mmdebstrap for the worker image (installed when missing, as
# root on Debian/Ubuntu; elsewhere it says what to install).
bash scripts/install-docker.sh
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# constraints.txt pins every transitive dependency to the set measured to work together.
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e ".[local,test]"
