#!/usr/bin/env bash
# One command on a fresh machine: install, start the embedded default, register the deployments
# of the configured environments (environments/*.env; a fresh checkout: local), run bootstrap/local.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
exec .venv/bin/bootstrap-flows quickstart
