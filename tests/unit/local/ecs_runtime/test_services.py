"""A failing service's restarts back off as ECS's do; its RunTask call is what moto accepts."""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap_local.ecs_runtime.services import (
    BACKOFF_RESET,
    MAX_BACKOFF,
    Backoff,
    ServiceBackoff,
    run_task_request,
)

NOW = 10_000.0  # any monotonic clock reading
KEY = ("arn:aws:ecs:us-east-1:123456789012:cluster/local", "worker")


def test_no_failure_no_wait() -> None:
    assert Backoff().allows_start(NOW)
    assert ServiceBackoff().allows_start(KEY, NOW)


def test_waits_double_up_to_a_minute() -> None:
    state, waits = Backoff(), []
    for failure in range(8):
        now = NOW + failure
        state = state.after_failure(now)
        waits.append(state.not_before - now)
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF]
    assert state.failures == 8


def test_start_is_allowed_once_the_wait_is_over() -> None:
    state = Backoff().after_failure(NOW).after_failure(NOW + 1)  # waits 4 s from NOW + 1
    assert not state.allows_start(NOW + 4.999)
    assert state.allows_start(NOW + 5)


@pytest.mark.parametrize(
    ("quiet", "expected_wait"),
    [(BACKOFF_RESET, 8.0), (BACKOFF_RESET + 0.001, 2.0)],
    ids=["exactly the reset time: keeps counting", "longer: starts over"],
)
def test_a_quiet_service_starts_over(quiet: float, expected_wait: float) -> None:
    state = Backoff().after_failure(NOW).after_failure(NOW + 1)
    later = NOW + 1 + quiet
    assert state.after_failure(later).not_before - later == expected_wait


def test_services_back_off_on_their_own() -> None:
    backoff = ServiceBackoff()
    other = (KEY[0], "other")
    backoff.failed(KEY, NOW)
    assert not backoff.allows_start(KEY, NOW + 1)
    assert backoff.allows_start(other, NOW + 1)
    backoff.failed(KEY, NOW + 2)
    assert not backoff.allows_start(KEY, NOW + 5)
    assert backoff.allows_start(KEY, NOW + 6)


def service(**fields: Any) -> dict[str, Any]:
    return {
        "clusterArn": KEY[0],
        "serviceName": "worker",
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:3",
        **fields,
    }


def test_run_task_request_for_a_plain_service() -> None:
    assert run_task_request(service()) == {
        "cluster": KEY[0],
        "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:3",
        "count": 1,
        "startedBy": "worker",
        "group": "service:worker",
        "launchType": "FARGATE",
    }


def test_run_task_request_network_and_tags() -> None:
    tags = [{"key": "team", "value": "data"}]
    request = run_task_request(
        service(
            launchType="EC2",
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
            propagateTags="SERVICE",
            tags=tags,
        )
    )
    assert request["launchType"] == "EC2"
    # moto's RunTask fails without securityGroups; given ones are kept.
    assert request["networkConfiguration"] == {
        "awsvpcConfiguration": {"securityGroups": [], "subnets": ["subnet-1"]}
    }
    assert request["tags"] == tags
    with_groups = {"subnets": ["s"], "securityGroups": ["sg-1"]}
    kept = run_task_request(service(networkConfiguration={"awsvpcConfiguration": with_groups}))
    assert kept["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == ["sg-1"]
    assert "tags" not in run_task_request(service(propagateTags="NONE", tags=tags))
