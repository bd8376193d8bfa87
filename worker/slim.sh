#!/bin/sh
# Runs last in the build stage: trims /opt/venv of what neither the worker nor a flow run uses.
# Every flow run on Fargate pulls the whole image (Fargate keeps no image cache), so each byte
# here is paid on every run. What goes, and why it is safe, is in worker/README.md.
set -eu
venv=/opt/venv
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cd "$site"

# The Prefect server stays whole (its UI, SQLAlchemy, Alembic, asyncpg, pydocket...): the
# server stack (modules/prefect_server) serves Prefect from this same image. Build tools go: pip
# installs wheels without setuptools and fetches its own for an sdist. pip itself stays (derived
# images and deployment pull steps pip-install).
"$venv/bin/pip" uninstall -y -q setuptools
# Type-checking and test files: never imported at run time.
find . -name '*.pyi' -delete
find . -maxdepth 1 -type d -name '*-stubs' -exec rm -rf {} +
find . -mindepth 2 -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +
# botocore loads a service's newest API version unless a client names another; the older ones
# and the documentation examples are never read.
for service in botocore/data/*/; do
    ls -d "$service"*/ 2>/dev/null | sort | head -n -1 | xargs -r rm -rf
done
find botocore/data -name 'examples-1.json' -delete

# Extension modules keep their dynamic symbols; symbol tables and debug info go (61 -> 27 MB).
# strip comes from binutils, installed into this build stage only when the base lacks it.
if ! command -v strip >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils) >/dev/null \
        || echo "worker image: binutils not installable; extension modules stay unstripped" >&2
fi
if command -v strip >/dev/null 2>&1; then
    find "$venv" -name '*.so*' -type f -exec strip --strip-unneeded {} +
fi

# Bytecode: only for what starts. All of it is 35 MB (31 MB compressed); without any, every
# container start compiles prefect, prefect-aws and boto3 again (+3.5 s here, more on a small
# Fargate task, whose user cannot write it back). So: drop it all, then import what the worker
# and `prefect flow-run execute` import, which writes exactly those .pyc files (21 MB).
find "$venv" -name __pycache__ -type d -prune -exec rm -rf {} +
"$venv/bin/python" - <<'PY'
import boto3
import docker  # the worker imports it at start in the final image, not here: named explicitly
import prefect
import prefect.cli
import prefect.flow_engine
import prefect.main
import prefect.runner
import prefect.server.api.server  # the server stack's `prefect server start`
import prefect_aws
import prefect_aws.deployments.steps
import prefect_aws.workers.ecs_worker
from prefect.plugins import load_prefect_collections

load_prefect_collections()
for service in ("ecs", "ec2", "logs", "s3", "secretsmanager", "sqs", "sts"):
    boto3.client(service, region_name="us-east-1")
PY
"$venv/bin/prefect" --help >/dev/null
"$venv/bin/prefect" worker start --help >/dev/null
"$venv/bin/prefect" flow-run execute --help >/dev/null
