#!/bin/sh
# No arguments: run the ECS worker for $PREFECT_WORK_POOL. Arguments starting with `-` are extra
# worker options (`--name x --limit 4`). Anything else is a command and runs as given: the ECS
# worker starts flow runs in this image with a command override (`prefect flow-run execute`).
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    if [ -z "${PREFECT_WORK_POOL:-}" ]; then
        echo "worker-entrypoint: set PREFECT_WORK_POOL to the work pool this worker polls" >&2
        exit 64
    fi
    # The image pins prefect-aws; a worker must never pip-install packages at start.
    exec prefect worker start --pool "$PREFECT_WORK_POOL" --type ecs --install-policy never "$@"
fi
exec "$@"
