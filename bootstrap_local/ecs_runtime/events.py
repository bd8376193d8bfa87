"""`ECS Task State Change` events, as ECS sends them to EventBridge for each task transition.

moto's PutEvents matches every rule's event pattern and delivers to its SQS targets, so the
runtime puts the event on the default bus and the real rule and target do the routing (real
EventBridge refuses `aws.*` sources from PutEvents; only the emulator accepts them). moto leaves
`account` out of the delivered message; the Prefect ECS observer does not read it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_local.ecs_runtime.clients import error_code
from bootstrap_local.ecs_runtime.tasks import TaskRecord, task_container

logger = logging.getLogger("bootstrap_local.ecs_runtime")

# The event's `version` field: ECS counts a task's transitions, PENDING first.
VERSIONS = {"PENDING": 1, "RUNNING": 2}
STOPPED_VERSION = 3


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def container_event(
    task: dict[str, Any], container_def: dict[str, Any], status: str
) -> dict[str, Any]:
    """The `containers[]` entry of an event, from the definition or else from moto's record."""
    recorded = task_container(task)
    return {
        "containerArn": recorded.get("containerArn"),
        "name": container_def.get("name") or recorded.get("name"),
        "image": container_def.get("image") or recorded.get("image"),
        "lastStatus": status,
        "taskArn": task["taskArn"],
    }


def stopped_container_event(
    record: TaskRecord, exit_code: int | None, reason: str | None
) -> dict[str, Any]:
    """The `containers[]` entry of a STOPPED event: the exit code moto cannot report."""
    container: dict[str, Any] = {
        "containerArn": record.container_arn,
        "name": record.container_name,
        "image": record.image,
        "lastStatus": "STOPPED",
        "taskArn": record.arn,
    }
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason:
        container["reason"] = reason
    return container


def task_state_change(
    task: dict[str, Any],
    last_status: str,
    containers: list[dict[str, Any]],
    created_at: datetime,
    now: datetime,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The event's `detail`; `extra` fields (stopCode, startedAt...) that are None are left out."""
    return {
        "clusterArn": task["clusterArn"],
        "taskArn": str(task["taskArn"]),
        "taskDefinitionArn": task["taskDefinitionArn"],
        "lastStatus": last_status,
        "desiredStatus": "STOPPED" if last_status == "STOPPED" else "RUNNING",
        "launchType": task.get("launchType") or "FARGATE",
        "group": task.get("group", ""),
        "startedBy": task.get("startedBy", ""),
        "overrides": task.get("overrides", {}),
        "containers": containers,
        "createdAt": iso(created_at),
        "updatedAt": iso(now),
        "version": VERSIONS.get(last_status, STOPPED_VERSION),
        **{key: value for key, value in extra.items() if value is not None},
    }


class TaskEvents:
    """Publishes each task's transitions; remembers when it first saw a task (`createdAt`)."""

    def __init__(self, events_client: Any) -> None:
        self.client = events_client
        self.created_at: dict[str, datetime] = {}

    def first_seen(self, task_arn: str) -> datetime:
        return self.created_at.setdefault(task_arn, datetime.now(UTC))

    def forget(self, task_arn: str) -> None:
        self.created_at.pop(task_arn, None)

    def emit(
        self,
        task: dict[str, Any],
        last_status: str,
        containers: list[dict[str, Any]],
        **extra: Any,
    ) -> None:
        """Publish the `ECS Task State Change` event ECS would send for this transition."""
        now = datetime.now(UTC)
        arn = str(task["taskArn"])
        created_at = self.created_at.get(arn, now)
        detail = task_state_change(task, last_status, containers, created_at, now, extra)
        try:
            response = self.client.put_events(
                Entries=[
                    {
                        "Source": "aws.ecs",
                        "DetailType": "ECS Task State Change",
                        "Detail": json.dumps(detail, default=str),
                        "Resources": [arn],
                        "Time": now,
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not send %s event of %s: %s", last_status, arn, error_code(exc))
            return
        if response.get("FailedEntryCount"):
            logger.warning("EventBridge refused the %s event of %s", last_status, arn)
