"""The alert automations as specs: which events each one covers (held to the Prefect server's
own trigger model), and what their messages say (rendered by the server's own templating)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from prefect.server.events.actions import SendNotification as ServerSendNotification
from prefect.server.events.schemas.automations import EventTrigger as ServerTrigger
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.utilities.user_templates import render_user_template_sync

from bootstrap_flows.config.settings import SettingsError, load_settings
from bootstrap_flows.drift.bookkeeping import event_payload
from bootstrap_flows.drift.findings import DriftReport
from bootstrap_flows.prefect_side import alerts
from bootstrap_flows.prefect_side.events import EVENT_DETECTED, environment_resource
from tests.support.samples import DRIFT_FINDING

POOL = "ecs-work-pool"


def _specs(environment: str = "dev", **values: Any) -> dict[str, alerts.AlertSpec]:
    settings = load_settings(
        environment=environment,
        target="emulator",
        notification_block="custom-webhook/ops",
        **values,
    )
    return {spec.name.split(": ", 1)[1]: spec for spec in alerts.specs(settings)}


def _server(spec: alerts.AlertSpec) -> ServerTrigger:
    return ServerTrigger.model_validate(spec.trigger.model_dump(mode="json"))


def _event(name: str, resource: dict[str, str], related: list[dict[str, str]]) -> ReceivedEvent:
    return ReceivedEvent(
        occurred=datetime.now(UTC), event=name, resource=resource, related=related, id=uuid4()
    )


def _run_event(state: str, flow: str, tags: list[str], pool: str = POOL) -> ReceivedEvent:
    related = [
        {"prefect.resource.id": f"prefect.flow.{uuid4()}", "prefect.resource.role": "flow",
         "prefect.resource.name": flow},
        {"prefect.resource.id": f"prefect.work-pool.{uuid4()}",
         "prefect.resource.role": "work-pool", "prefect.resource.name": pool},
        *({"prefect.resource.id": f"prefect.tag.{t}", "prefect.resource.role": "tag"}
          for t in tags),
    ]  # fmt: skip
    resource = {
        "prefect.resource.id": f"prefect.flow-run.{uuid4()}",
        "prefect.resource.name": "sly-fox",
        "prefect.state-name": state,
        "prefect.state-message": "it broke",
    }
    return _event(f"prefect.flow-run.{state}", resource, related)


def test_five_automations_named_for_the_environment_on_the_right_prefect() -> None:
    specs = alerts.specs(load_settings(environment="dev", target="emulator"))
    assert [s.name for s in specs] == [
        "bootstrap-flows dev: drift found or changed",
        "bootstrap-flows dev: drift-check could not run",
        "bootstrap-flows dev: bootstrap or teardown failed",
        "bootstrap-flows dev: work pool without a worker",
        "bootstrap-flows dev: flow run waiting on the work pool",
    ]
    assert [s.where for s in specs] == ["orchestrator"] * 3 + ["target"] * 2


def test_drift_alert_covers_its_environments_event_only() -> None:
    trigger = _server(_specs()["drift found or changed"])
    assert trigger.covers(_event(EVENT_DETECTED, environment_resource("dev"), []))
    assert not trigger.covers(_event(EVENT_DETECTED, environment_resource("prod"), []))
    assert not trigger.covers(_event("bootstrap.drift.resolved", environment_resource("dev"), []))


@pytest.mark.parametrize(
    ("alert", "state", "flow", "tags", "covered"),
    [
        ("bootstrap or teardown failed", "Failed", "bootstrap", ["bootstrap", "dev"], True),
        ("bootstrap or teardown failed", "Crashed", "teardown", ["teardown", "dev"], True),
        ("bootstrap or teardown failed", "Failed", "bootstrap", ["bootstrap", "prod"], False),
        ("bootstrap or teardown failed", "Failed", "drift-check", ["dev"], False),
        ("bootstrap or teardown failed", "Rejected", "bootstrap", ["dev"], False),
        ("bootstrap or teardown failed", "Completed", "bootstrap", ["dev"], False),
        ("drift-check could not run", "CheckFailed", "drift-check", ["dev"], True),
        ("drift-check could not run", "Drifted", "drift-check", ["dev"], False),
        ("drift-check could not run", "CheckFailed", "drift-check", ["prod"], False),
    ],
)
def test_run_alerts_cover_runs_of_their_flows_in_the_environment(
    alert: str, state: str, flow: str, tags: list[str], covered: bool
) -> None:
    assert _server(_specs()[alert]).covers(_run_event(state, flow, tags)) is covered


def test_waiting_run_alert_starts_on_pending_or_late_of_the_pool_and_waits_its_minutes() -> None:
    trigger = _server(_specs(alert_run_pending_minutes="20")["flow run waiting on the work pool"])
    assert trigger.posture == "Proactive" and trigger.within.total_seconds() == 20 * 60
    for state in ("Pending", "Late"):
        event = _run_event(state, "my-flow", [])
        assert trigger.covers(event) and trigger.starts_after(event.event)
    assert not trigger.covers(_run_event("Pending", "my-flow", [], pool="other-pool"))
    # Any next state of the run ends the wait.
    assert trigger.expects("prefect.flow-run.Running")


def test_worker_alert_starts_when_the_pool_is_not_ready_and_ends_when_ready_or_paused() -> None:
    trigger = _server(_specs()["work pool without a worker"])
    assert trigger.within.total_seconds() == 10 * 60  # the default
    pool = {"prefect.resource.id": f"prefect.work-pool.{uuid4()}", "prefect.resource.name": POOL}
    not_ready = _event("prefect.work-pool.not-ready", pool, [])
    assert trigger.covers(not_ready) and trigger.starts_after(not_ready.event)
    assert trigger.expects("prefect.work-pool.ready")
    assert trigger.expects("prefect.work-pool.paused")
    other = {**pool, "prefect.resource.name": "other-pool"}
    assert not trigger.covers(_event("prefect.work-pool.not-ready", other, []))


def _rendered(spec: alerts.AlertSpec, event: ReceivedEvent) -> str:
    action = spec.automation(uuid4(), "dev").actions[0].model_dump(mode="json")
    server = ServerSendNotification.model_validate(action)  # the server accepts the templates
    return render_user_template_sync(server.body, {"event": event, "flow_run": None})


def test_drift_message_names_the_environment_resources_and_attributes() -> None:
    report = DriftReport(environment="dev", status="drifted", findings=[DRIFT_FINDING])
    event = _event(EVENT_DETECTED, environment_resource("dev"), [])
    event.payload = event_payload(report)
    body = _rendered(_specs()["drift found or changed"], event)
    assert body.startswith("Drift in environment dev (1 drift):\n")
    assert "aws_ecs_service.worker desired_count: update (expected 1, actual 3)" in body


def test_failed_run_message_names_the_environment_state_and_reason() -> None:
    body = _rendered(
        _specs()["bootstrap or teardown failed"], _run_event("Crashed", "bootstrap", ["dev"])
    )
    assert body == "A run of environment dev ended Crashed: sly-fox (it broke)"


@pytest.mark.parametrize("value", ["ops", "Slack-Webhook/ops", "slack-webhook/ops/x", "a/b c"])
def test_a_notification_block_is_named_type_slash_name(value: str) -> None:
    with pytest.raises(SettingsError, match="is not a block slug"):
        load_settings(environment="dev", target="emulator", notification_block=value)
