"""The pure halves of the pool, worker and image checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from prefect.client.schemas.objects import Worker, WorkerStatus

from bootstrap_flows.drift.checks import heartbeat_findings, service_findings, split_image
from bootstrap_flows.drift.findings import Finding

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
SERVICE = "ecs_service.prefect-local-worker"


def worker(seconds_ago: int | None, interval: int | None = None) -> Worker:
    beat = None if seconds_ago is None else NOW - timedelta(seconds=seconds_ago)
    return Worker(
        name=f"worker-{uuid4().hex[:6]}",
        work_pool_id=uuid4(),
        last_heartbeat_time=beat,
        heartbeat_interval_seconds=interval,
        status=WorkerStatus.ONLINE,
    )


def summary(findings: list[Finding]) -> list[tuple[str, ...]]:
    return [(f.resource, f.attribute, f.action, f.expected, f.actual) for f in findings]


def test_image_references() -> None:
    assert split_image("127.0.0.1:5000/prefect-local-worker@sha256:ab") == (
        "prefect-local-worker",
        {"imageDigest": "sha256:ab"},
    )
    assert split_image("1.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1") == (
        "team/app",
        {"imageTag": "v1"},
    )
    assert split_image("registry.example/app") == ("app", {"imageTag": "latest"})


def test_service_running_what_it_should_is_clean() -> None:
    assert service_findings({"desiredCount": 1, "runningCount": 1}, SERVICE, 1) == []


def test_service_deleted() -> None:
    assert summary(service_findings({}, SERVICE, 1)) == [
        (SERVICE, "(resource)", "deleted", "ACTIVE", "missing")
    ]


def test_service_scaled_by_hand_and_not_running() -> None:
    found = service_findings({"desiredCount": 2, "runningCount": 1}, SERVICE, 1)
    assert summary(found) == [
        (SERVICE, "desiredCount", "changed", "1", "2"),
        (SERVICE, "runningCount", "not running", "2", "1"),
    ]
    assert {f.kind for f in found} == {"worker"}


def test_autoscaling_owns_the_desired_count() -> None:
    assert service_findings({"desiredCount": 3, "runningCount": 3}, SERVICE, None) == []


def test_a_fresh_heartbeat_is_online() -> None:
    assert heartbeat_findings([worker(None), worker(60)], "pool", None, NOW) == []


def test_missed_heartbeats_are_offline() -> None:
    # Three missed beats of the default 30 s interval; the last heartbeat's time, not its age.
    found = heartbeat_findings([worker(91), worker(300)], "pool", None, NOW)
    assert summary(found) == [
        (
            "workers.pool",
            "last_heartbeat",
            "offline",
            "within 3 heartbeat intervals",
            "last heartbeat 2025-01-01T11:58:29+00:00",
        )
    ]


def test_a_worker_s_own_interval_sets_its_allowance() -> None:
    assert heartbeat_findings([worker(150, interval=60)], "pool", None, NOW) == []
    assert heartbeat_findings([worker(181, interval=60)], "pool", None, NOW) != []


def test_max_age_setting() -> None:
    assert heartbeat_findings([worker(100)], "pool", 120, NOW) == []
    [found] = heartbeat_findings([worker(121)], "pool", 120, NOW)
    assert found.expected == "within 120 s"


def test_no_worker_ever() -> None:
    [found] = heartbeat_findings([], "pool", None, NOW)
    assert (found.action, found.actual) == ("offline", "none")
