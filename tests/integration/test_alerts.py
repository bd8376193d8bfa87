"""Alerts on the session's local Prefect server: its automation services send real messages.

A custom-webhook block points at the local webhook sink (bootstrap_local/webhook_sink.py,
Slack's stand-in). Bootstrap's alert stage makes the environment's automations; a second run
keeps a person's edit; the drift event, emitted by drift-check's own `record` task in a flow
run, reaches the sink naming the environment and the drifted attribute with a link to the run;
so does a failed run of a `bootstrap` flow of the environment, and a run left Late on the pool.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from prefect import flow, tags
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.blocks.system import Secret
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.events.schemas.automations import Automation

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.drift.bookkeeping import record
from bootstrap_flows.drift.findings import DriftReport
from bootstrap_flows.prefect_side import alerts
from bootstrap_flows.prefect_side.events import EVENT_DETECTED
from bootstrap_local.webhook_sink import WebhookSink
from tests.support.samples import DRIFT_FINDING, no_server_stack_recorded

pytestmark = pytest.mark.slow
ENV = "alerted"
BLOCK = "alerts-sink"
POOL = "alerted-pool"
# The server's trigger and action services poll every few seconds; a CPU-starved suite is slow.
DELIVERY_SECONDS = 90


@pytest.fixture()
def sink(local_stack: BootstrapSettings) -> Iterator[WebhookSink]:
    with WebhookSink() as running:
        CustomWebhookNotificationBlock(
            name="sink",
            url=running.url,
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
        ).save(BLOCK, overwrite=True)
        yield running
    with get_client(sync_client=True) as client:
        for automation in client.read_automations():
            if automation.name.startswith(alerts.automation_name(ENV, "")):
                client.delete_automation(automation.id)
        for deployment in client.read_deployments():
            if deployment.work_pool_name == POOL:
                client.delete_deployment(deployment.id)
        if any(pool.name == POOL for pool in client.read_work_pools()):
            client.delete_work_pool(POOL)
        if client.read_variable_by_name(f"drift-{ENV}") is not None:
            client.delete_variable_by_name(f"drift-{ENV}")


@pytest.fixture()
def settings(sink: WebhookSink) -> BootstrapSettings:
    return load_settings(
        environment=ENV,
        target="emulator",
        work_pool_name=POOL,
        notification_block=f"custom-webhook/{BLOCK}",
        alert_run_pending_minutes=1,
    )


def _by_name(client: SyncPrefectClient, name: str) -> Automation:
    (automation,) = client.read_automations_by_name(name)
    return automation


def _late_run_on_the_pool() -> str:
    """A run of a deployment on the pool, which has no worker: Scheduled, then Late."""

    @flow(name="waits-for-a-worker")
    def waits() -> None: ...

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"), overwrite=True)
        flow_id = client.create_flow_from_name(waits.name)
        deployment = client.create_deployment(flow_id, "alerted", work_pool_name=POOL)
        return client.create_flow_run_from_deployment(deployment).name


def test_alerts_are_made_once_keep_edits_and_deliver(
    settings: BootstrapSettings, sink: WebhookSink
) -> None:
    late_run = _late_run_on_the_pool()
    made = alerts.ensure(settings)  # what bootstrap's `alerts` stage logs
    assert set(made.values()) == {"created"} and len(made) == 5
    edited = alerts.automation_name(ENV, "drift-check could not run")
    with get_client(sync_client=True) as client:
        mine = _by_name(client, edited)
        edit = {"description": "muted by the on-call", "enabled": False}
        # As the UI saves an edit (the client's update sends `owner_resource`, which the open
        # source server refuses).
        body = mine.model_dump(mode="json", exclude={"id", "owner_resource"}) | edit
        client._client.put(f"/automations/{mine.id}", json=body).raise_for_status()

    again = alerts.ensure(settings)
    assert set(again.values()) == {"kept (it exists: left as it is)"}
    with get_client(sync_client=True) as client:
        kept = _by_name(client, edited)
        assert (kept.description, kept.enabled) == ("muted by the on-call", False)
        assert (
            sum(a.name.startswith(f"bootstrap-flows {ENV}: ") for a in client.read_automations())
            == 5
        )

    @flow(name="drift-check-probe")
    def drift_probe() -> str:
        report = record(DriftReport(environment=ENV, status="drifted", findings=[DRIFT_FINDING]))
        assert report.event == EVENT_DETECTED
        from prefect.runtime import flow_run

        return str(flow_run.id)

    run_id = drift_probe()
    message = sink.wait_for(f"environment {ENV}", "desired_count", timeout=DELIVERY_SECONDS)
    assert "aws_ecs_service.worker desired_count: update (expected 1, actual 3)" in message
    sent = json.loads(message)  # the custom-webhook block's json_data, filled in
    assert sent["subject"] == f"bootstrap-flows {ENV}: drift found"
    assert sent["body"].startswith(f"Drift in environment {ENV} (1 drift):\n")
    assert run_id in message  # the link to the run

    @flow(name="bootstrap")
    def failing_bootstrap() -> None:
        raise RuntimeError("the platform plan failed")

    with tags(ENV), pytest.raises(RuntimeError):
        failing_bootstrap()
    sink.wait_for(f"A run of environment {ENV} ended Failed", timeout=DELIVERY_SECONDS)

    # Late after 15 s (the server's late-runs service), then one minute without a next state.
    sink.wait_for(f"work pool {POOL} of environment {ENV}", late_run, timeout=150)


def test_a_block_that_does_not_notify_is_refused(local_stack: BootstrapSettings) -> None:
    Secret(value="not a channel").save("alerts-not-a-channel", overwrite=True)
    settings = load_settings(
        environment=ENV, target="emulator", notification_block="secret/alerts-not-a-channel"
    )
    with pytest.raises(alerts.AlertsError, match="block type secret cannot send notifications"):
        alerts.check_block(settings)
    with get_client(sync_client=True) as client:
        assert not client.read_automations_by_name(
            alerts.automation_name(ENV, "drift found or changed")
        )


def test_teardown_deletes_them_by_name(settings: BootstrapSettings) -> None:
    alerts.ensure(settings)
    deleted = alerts.delete(settings)
    assert len(deleted) == 5 and all(n.startswith(f"bootstrap-flows {ENV}: ") for n in deleted)
    assert alerts.delete(settings) == []


def test_teardown_with_no_server_stack_recorded_deletes_the_orchestrators_and_says_so(
    settings: BootstrapSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """prefect_server=aws on AWS with no server stack recorded: no Prefect for the worker is
    known (its URL comes from the stack's outputs). The orchestrator's automations go; the
    target is skipped with one line, not refused for a setting teardown does not need."""
    alerts.ensure(settings)  # five, on the one local Prefect: the orchestrator here
    on_aws = no_server_stack_recorded(ENV, notification_block=f"custom-webhook/{BLOCK}")
    caplog.set_level(logging.INFO, logger=alerts.__name__)
    deleted = alerts.delete(on_aws)
    assert sorted(deleted) == sorted(spec.name for spec in alerts.specs(on_aws))
    (line,) = [r.getMessage() for r in caplog.records if r.name == alerts.__name__]
    assert line.startswith(
        "Deleting the environment's automations on the orchestrating Prefect only: no Prefect "
        "API for the worker is known (prefect_server=aws and no server stack recorded)"
    )
