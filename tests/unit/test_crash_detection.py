"""The automation that marks a bootstrap Crashed when its heartbeats stop, evaluated the way
the Prefect server evaluates it (its own trigger model), without a server."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from prefect.server.events.schemas.automations import EventTrigger as ServerTrigger
from prefect.server.events.schemas.events import ReceivedEvent

from bootstrap_flows.prefect_side.crash_detection import (
    HEARTBEAT_ENV,
    automation,
    worker_environment,
)


def heartbeat(flow: str, deployment: bool) -> ReceivedEvent:
    run = uuid4()
    related = [
        {"prefect.resource.id": f"prefect.flow.{uuid4()}", "prefect.resource.role": "flow"}
        | {"prefect.resource.name": flow}
    ]
    if deployment:
        related.append(
            {
                "prefect.resource.id": f"prefect.deployment.{uuid4()}",
                "prefect.resource.role": "deployment",
            }
        )
    return ReceivedEvent.model_validate(
        {
            "occurred": "2025-01-02T03:04:05Z",
            "event": "prefect.flow-run.heartbeat",
            "resource": {"prefect.resource.id": f"prefect.flow-run.{run}"},
            "related": related,
            "id": uuid4(),
        }
    )


def server_trigger() -> ServerTrigger:
    return ServerTrigger.model_validate(automation().trigger.model_dump(mode="json"))


def test_silence_of_three_heartbeats_marks_the_run_crashed() -> None:
    core = automation()
    trigger = core.trigger
    assert trigger.posture == "Proactive"
    assert trigger.within == timedelta(seconds=90)
    assert trigger.after == {"prefect.flow-run.heartbeat"}
    assert "prefect.flow-run.Completed" in trigger.expect
    assert [a.model_dump(include={"type", "state"}) for a in core.actions] == [
        {"type": "change-flow-run-state", "state": "CRASHED"}
    ]
    assert worker_environment() == {HEARTBEAT_ENV: "30"}


def test_prefect_never_beats_faster_than_every_30_s() -> None:
    assert automation(heartbeat_seconds=5).trigger.within == timedelta(seconds=90)
    assert automation(heartbeat_seconds=60).trigger.within == timedelta(seconds=180)


@pytest.mark.parametrize(
    ("flow", "deployment", "watched"),
    [
        ("bootstrap", True, True),
        ("teardown", True, True),
        ("drift-check", True, True),
        # Run in a plain Python process: it beats at Prefect's default 180 s, not the worker's.
        ("bootstrap", False, False),
        # Another flow on the same Prefect (the e2e test flow in its ECS task).
        ("e2e-test", True, False),
    ],
)
def test_only_our_flows_run_by_a_worker_are_watched(
    flow: str, deployment: bool, watched: bool
) -> None:
    assert server_trigger().covers(heartbeat(flow, deployment)) is watched
