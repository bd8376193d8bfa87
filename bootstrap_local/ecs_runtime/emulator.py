"""Emulated ECS as the runtime reads and updates it, with what moto 5.2.6 needs worked around.

- Task status: moto's tasks start RUNNING (it has no PROVISIONING/PENDING) and by default move
  one step towards STOPPED on every DescribeTasks, which the Prefect ECS observer calls. The
  runtime sets moto's state manager (`/moto-api/state-manager/set-transition`, model
  `ecs::task`) to manual progression with a tick count never reached, so a task's status only
  changes through StopTask. It re-asserts this every pass, in case moto restarted.
- Exit codes: moto always reports `containers[].exitCode = 0` and has no API to change it, so the
  real code goes into `stoppedReason` ("Essential container in task exited (exit code N)") and
  into the STOPPED event's `containers[].exitCode`, which is what the Prefect observer reads.
- Stop codes: moto's StopTask keeps only the reason, and DescribeTasks has no `stopCode`; the
  code (`TaskFailedToStart`, `EssentialContainerExited`, `UserInitiated`, ...) is only in the
  STOPPED event, which is where the observer looks for it.
- Service counts: moto sets `runningCount` only from UpdateService, to the new `desiredCount`.
  Once a service's containers all run, the runtime calls UpdateService with the unchanged
  desired count so `runningCount` matches; it cannot lower `runningCount` while a replacement
  is pending. moto's ListTasks ignores `serviceName`, hence `startedBy=<service name>` (real ECS
  uses the deployment ID) so `list_tasks(startedBy=...)` finds a service's tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_local.ecs_runtime.clients import error_code
from bootstrap_local.target import MOTO_READY_PATH

logger = logging.getLogger("bootstrap_local.ecs_runtime")

SET_TRANSITION_PATH = "/moto-api/state-manager/set-transition"
# A tick count moto never reaches: with it a task's status changes only through StopTask.
NEVER = 2**31 - 1
TASK_TRANSITION = {
    "model_name": "ecs::task",
    "transition": {"progression": "manual", "times": NEVER},
}


def exit_reason(exit_code: int | None) -> str:
    """The stoppedReason of a task whose container exited: where moto can keep the exit code."""
    return "Essential container in task exited" + (
        f" (exit code {exit_code})" if exit_code is not None else ""
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EmulatedEcs:
    """The ECS API of the emulator (a boto3 client) plus moto's own control endpoints."""

    def __init__(self, ecs: Any, endpoint: str) -> None:
        self.client = ecs
        self.endpoint = endpoint
        # One connection for the control calls of every pass: a bare httpx.post builds a client
        # (and its SSL context) each time, 24 ms of CPU against 2 ms, most of an idle pass.
        self.control = httpx.Client(base_url=endpoint, timeout=5)

    # --- moto's control API ----------------------------------------------------------------

    def hold_task_status(self) -> None:
        """Stop moto from advancing task status on its own (see the module docstring)."""
        self.control.post(SET_TRANSITION_PATH, json=TASK_TRANSITION).raise_for_status()

    def answers(self) -> bool:
        try:
            return self.control.get(MOTO_READY_PATH, timeout=3).status_code < 500
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self.control.close()

    # --- reading ---------------------------------------------------------------------------

    def clusters(self) -> list[str]:
        arns: list[str] = []
        for page in self.client.get_paginator("list_clusters").paginate():
            arns.extend(page.get("clusterArns", []))
        return arns

    def wanted(self, cluster_arn: str) -> list[str]:
        """ARNs of the cluster's tasks whose desired status is RUNNING."""
        arns: list[str] = []
        paginator = self.client.get_paginator("list_tasks")
        for page in paginator.paginate(cluster=cluster_arn, desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", []))
        return arns

    def active_services(self, cluster_arn: str) -> list[dict[str, Any]]:
        names: list[str] = []
        for page in self.client.get_paginator("list_services").paginate(cluster=cluster_arn):
            names.extend(page.get("serviceArns", []))
        services: list[dict[str, Any]] = []
        for chunk in _chunks(names, 10):
            response = self.client.describe_services(
                cluster=cluster_arn, services=chunk, include=["TAGS"]
            )
            services.extend(s for s in response.get("services", []) if s.get("status") == "ACTIVE")
        return services

    def describe(self, cluster_arn: str, arns: list[str]) -> list[dict[str, Any]]:
        described: list[dict[str, Any]] = []
        for chunk in _chunks(arns, 100):
            response = self.client.describe_tasks(cluster=cluster_arn, tasks=chunk)
            described.extend(response.get("tasks", []))
        return described

    def task_definition(self, arn: str) -> dict[str, Any]:
        # Not cached: a restarted moto hands out the same ARN for a different definition.
        return dict(self.client.describe_task_definition(taskDefinition=arn)["taskDefinition"])

    # --- writing ---------------------------------------------------------------------------

    def run_task(self, request: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.run_task(**request))

    def stop_task(self, cluster_arn: str, task_arn: str, reason: str) -> None:
        """Mark the task STOPPED; a failure is logged (the next pass or the observer copes)."""
        try:
            self.client.stop_task(cluster=cluster_arn, task=task_arn, reason=reason[:1024])
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not mark task %s STOPPED: %s", task_arn, error_code(exc))

    def sync_running_count(self, service: dict[str, Any]) -> None:
        """Make moto's `runningCount` match `desiredCount` (see the module docstring)."""
        # Read the service again right before, so a desiredCount changed meanwhile is not undone.
        try:
            fresh = self.client.describe_services(
                cluster=service["clusterArn"], services=[service["serviceName"]]
            )["services"]
            if not fresh or fresh[0].get("desiredCount") != service["desiredCount"]:
                return
            self.client.update_service(
                cluster=service["clusterArn"],
                service=service["serviceName"],
                desiredCount=int(service["desiredCount"]),
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "service %s: could not update runningCount: %s",
                service["serviceName"],
                error_code(exc),
            )
