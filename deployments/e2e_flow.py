"""The end-to-end test flow: proves a work pool's infrastructure can run a real flow.

It runs inside the worker image on an ECS task, reaches the Prefect API, logs, returns a
result, and reports where it ran (task ARN, image) so bootstrap's summary can show it.
Set `E2E_FAIL=1` in the run's env to make it exit non-zero (to test crash detection).
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import httpx
import prefect
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run


def where_am_i() -> dict[str, Any]:
    """The ECS task and image this process runs in, from the task metadata endpoint if any."""
    where: dict[str, Any] = {
        "task_arn": os.environ.get("ECS_TASK_ARN"),
        "image": os.environ.get("ECS_CONTAINER_IMAGE"),
        "image_digest": None,
    }
    metadata = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if metadata:
        task = httpx.get(f"{metadata}/task", timeout=5).json()
        container = httpx.get(metadata, timeout=5).json()
        where["task_arn"] = task.get("TaskARN")
        where["image"] = container.get("Image")
        where["image_digest"] = container.get("ImageID")
    if where["image"] and "@sha256:" in where["image"] and not where["image_digest"]:
        where["image_digest"] = where["image"].split("@", 1)[1]
    return where


@flow(name="e2e-test", log_prints=True)
def e2e_test() -> dict[str, Any]:
    logger = get_run_logger()
    run_id = flow_run.get_id()
    with get_client(sync_client=True) as client:
        # A round trip to the API: the run can read its own record.
        me = client.read_flow_run(run_id) if run_id else None
    result = {
        **where_am_i(),
        "flow_run_id": str(run_id),
        "api_reached": me is not None,
        "python": platform.python_version(),
        "prefect": prefect.__version__,
    }
    logger.info("e2e-test ran in task %s from image %s", result["task_arn"], result["image"])
    # Bootstrap reads this back: the run's return value stays inside its container.
    create_table_artifact(
        key="e2e-where", table=[result], description="Where the e2e test flow ran"
    )
    if os.environ.get("E2E_FAIL") == "1":
        print("E2E_FAIL=1: exiting with code 3, as a crashing flow would")
        sys.stdout.flush()
        os._exit(3)
    return result
