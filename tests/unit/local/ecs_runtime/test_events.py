"""The `ECS Task State Change` detail the runtime publishes for each transition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bootstrap_local.ecs_runtime.emulator import exit_reason
from bootstrap_local.ecs_runtime.events import (
    container_event,
    iso,
    stopped_container_event,
    task_state_change,
)
from bootstrap_local.ecs_runtime.tasks import TaskRecord

CREATED = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
NOW = datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC)
TASK: dict[str, Any] = {
    "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/local/0123abcd",
    "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/local",
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/probe:1",
    "group": "family:probe",
    "overrides": {"containerOverrides": [{"name": "probe", "command": ["check"]}]},
    "containers": [{"containerArn": "arn:container", "name": "moto-name", "image": "moto-img"}],
}


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(CREATED) == "2024-05-01T10:00:00.123Z"
    assert iso(NOW.astimezone(timezone(timedelta(hours=2)))) == "2024-05-01T10:00:05.000Z"


@pytest.mark.parametrize(
    ("status", "desired", "version"),
    [("PENDING", "RUNNING", 1), ("RUNNING", "RUNNING", 2), ("STOPPED", "STOPPED", 3)],
)
def test_detail_per_status(status: str, desired: str, version: int) -> None:
    detail = task_state_change(TASK, status, [], CREATED, NOW, {})
    assert (detail["lastStatus"], detail["desiredStatus"], detail["version"]) == (
        status,
        desired,
        version,
    )


def test_detail_carries_the_task_and_drops_empty_extras() -> None:
    containers = [container_event(TASK, {"name": "probe", "image": "img"}, "STOPPED")]
    detail = task_state_change(
        TASK,
        "STOPPED",
        containers,
        CREATED,
        NOW,
        {"stopCode": "UserInitiated", "stoppedReason": None},
    )
    assert detail == {
        "clusterArn": TASK["clusterArn"],
        "taskArn": TASK["taskArn"],
        "taskDefinitionArn": TASK["taskDefinitionArn"],
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "launchType": "FARGATE",
        "group": "family:probe",
        "startedBy": "",
        "overrides": TASK["overrides"],
        "containers": [
            {
                "containerArn": "arn:container",
                "name": "probe",
                "image": "img",
                "lastStatus": "STOPPED",
                "taskArn": TASK["taskArn"],
            }
        ],
        "createdAt": "2024-05-01T10:00:00.123Z",
        "updatedAt": "2024-05-01T10:00:05.000Z",
        "version": 3,
        "stopCode": "UserInitiated",
    }


def test_container_event_falls_back_to_motos_record() -> None:
    event = container_event(TASK, {}, "STOPPED")
    assert (event["name"], event["image"]) == ("moto-name", "moto-img")
    assert container_event({"taskArn": "t"}, {}, "PENDING")["containerArn"] is None


def record() -> TaskRecord:
    return TaskRecord(
        task=TASK,
        container_id="c0ffee",
        container_name="probe",
        container_arn="arn:container",
        image="repo@sha256:abc",
        service=None,
        log_target=None,
        stop_timeout=30,
        stop_signal="SIGTERM",
        created_at=CREATED,
        started_at=NOW,
    )


def test_stopped_container_reports_the_exit_code_moto_cannot() -> None:
    assert stopped_container_event(record(), 7, None) == {
        "containerArn": "arn:container",
        "name": "probe",
        "image": "repo@sha256:abc",
        "lastStatus": "STOPPED",
        "taskArn": TASK["taskArn"],
        "exitCode": 7,
    }
    gone = stopped_container_event(record(), None, "the container was removed")
    assert "exitCode" not in gone
    assert gone["reason"] == "the container was removed"
    assert stopped_container_event(record(), 0, None)["exitCode"] == 0


def test_exit_code_goes_into_the_stopped_reason() -> None:
    assert exit_reason(137) == "Essential container in task exited (exit code 137)"
    assert exit_reason(0) == "Essential container in task exited (exit code 0)"
    assert exit_reason(None) == "Essential container in task exited"
