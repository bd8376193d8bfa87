"""Alerts: Prefect automations that send an environment's trouble to a notification block.

With `notification_block` set, bootstrap makes five automations, named
`bootstrap-flows <env>: <what>` so a person finds them in the UI:

- on the orchestrating Prefect (where bootstrap, teardown and drift-check run): drift found or
  changed (the `bootstrap.drift.detected` event, emitted once per change), a drift-check that
  could not run (its run ends `CheckFailed`), a bootstrap or teardown that failed or crashed;
- on the target Prefect (where the ECS pool is): the pool without an online worker for
  `alert_worker_unhealthy_minutes`, a flow run on the pool Pending or Late for more than
  `alert_run_pending_minutes`.

Flow runs are told apart by environment through the tag every deployment of the environment
carries (`bootstrap-flows deploy`: the environment's name). An automation of that name that
exists is left as it is: a user's edit (another channel, a longer delay, disabled) survives
every re-run. `specs` is pure; `ensure` and `delete` talk to Prefect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.exceptions import ObjectNotFound

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side import target_prefect
from bootstrap_flows.prefect_side.events import EVENT_DETECTED, environment_resource

Where = Literal["orchestrator", "target"]
Logger = logging.Logger | logging.LoggerAdapter[Any]
AUTOMATION_TAG = "bootstrap-flows"
# A run's link, when the event names one (an event sent outside a run names none).
_RUN_LINK = "{% if flow_run %}\nRun: {{ flow_run|ui_url }}{% endif %}"


class AlertsError(BootstrapError):
    """The notification block is missing or cannot notify; nothing was changed."""


@dataclass(frozen=True)
class AlertSpec:
    """One automation: where it lives, its name, what fires it and the message it sends."""

    where: Where
    name: str
    trigger: EventTrigger
    subject: str
    body: str

    def automation(self, block_document_id: UUID, environment: str) -> AutomationCore:
        return AutomationCore(
            name=self.name,
            description=f"Made by bootstrap for environment {environment}; edit freely: "
            "bootstrap leaves an automation of this name as it finds it.",
            tags=[AUTOMATION_TAG, environment],
            trigger=self.trigger,
            actions=[
                SendNotification(
                    block_document_id=block_document_id, subject=self.subject, body=self.body
                )
            ],
        )


def automation_name(environment: str, what: str) -> str:
    return f"{AUTOMATION_TAG} {environment}: {what}"


def _environment_runs(environment: str, flows: list[str]) -> list[dict[str, str | list[str]]]:
    """Related resources of a run of one of `flows` in the environment (its deployment's tag)."""
    return [
        {"prefect.resource.role": "flow", "prefect.resource.name": flows},
        {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{environment}"},
    ]


def _drift(env: str) -> AlertSpec:
    body = (
        f"Drift in environment {env} ("
        "{% for kind, n in event.payload.counts.items() if n %}{{ n }} {{ kind }}"
        "{% if not loop.last %}, {% endif %}{% endfor %}):\n"
        "{% for f in event.payload.findings %}- {{ f.resource }} {{ f.attribute }}: "
        "{{ f.action }} (expected {{ f.expected }}, actual {{ f.actual }})\n{% endfor %}"
        "{% if event.payload.truncated %}... and {{ event.payload.truncated }} more\n{% endif %}"
        + _RUN_LINK
    )
    return AlertSpec(
        "orchestrator",
        automation_name(env, "drift found or changed"),
        EventTrigger(
            expect={EVENT_DETECTED},
            match={"prefect.resource.id": environment_resource(env)["prefect.resource.id"]},
            posture=Posture.Reactive,
            threshold=1,
        ),
        f"bootstrap-flows {env}: drift found",
        body,
    )


def _check_failed(env: str) -> AlertSpec:
    return AlertSpec(
        "orchestrator",
        automation_name(env, "drift-check could not run"),
        EventTrigger(
            expect={"prefect.flow-run.CheckFailed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related=_environment_runs(env, ["drift-check"]),  # type: ignore[arg-type]
            posture=Posture.Reactive,
            threshold=1,
        ),
        f"bootstrap-flows {env}: drift-check could not run",
        f"The drift-check of environment {env} could not run: "
        '{{ event.resource["prefect.state-message"] }}' + _RUN_LINK,
    )


def _run_failed(env: str) -> AlertSpec:
    return AlertSpec(
        "orchestrator",
        automation_name(env, "bootstrap or teardown failed"),
        EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related=_environment_runs(env, ["bootstrap", "teardown"]),  # type: ignore[arg-type]
            posture=Posture.Reactive,
            threshold=1,
        ),
        f"bootstrap-flows {env}: a bootstrap or teardown run failed",
        f"A run of environment {env} ended "
        '{{ event.resource["prefect.state-name"] }}: {{ event.resource.name }} '
        '({{ event.resource["prefect.state-message"] }})' + _RUN_LINK,
    )


def _unanswered(
    after: set[str],
    expect: set[str],
    match: dict[str, str],
    minutes: int,
    related: dict[str, str] | None = None,
) -> EventTrigger:
    """Fires when a resource's `after` event is not followed by an `expect` one in `minutes`."""
    return EventTrigger(
        after=after,
        expect=expect,
        match=match,  # type: ignore[arg-type]
        match_related=related or {},  # type: ignore[arg-type]
        for_each={"prefect.resource.id"},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(minutes=minutes),
    )


def _no_worker(env: str, pool: str, minutes: int) -> AlertSpec:
    # The server marks a pool NOT_READY once no worker of it sends heartbeats; READY again when
    # one does. Paused (teardown's drain) is not a worker problem.
    return AlertSpec(
        "target",
        automation_name(env, "work pool without a worker"),
        _unanswered(
            after={"prefect.work-pool.not-ready"},
            expect={"prefect.work-pool.ready", "prefect.work-pool.paused"},
            match={"prefect.resource.id": "prefect.work-pool.*", "prefect.resource.name": pool},
            minutes=minutes,
        ),
        f"bootstrap-flows {env}: work pool {pool} has no worker",
        f"Work pool {pool} of environment {env} has had no online worker for {minutes} "
        "minutes: its flow runs wait. The worker is the ECS service of the environment's "
        "cluster; its logs are in the platform's log group."
        "{% if work_pool %}\nPool: {{ work_pool|ui_url }}{% endif %}",
    )


def _run_waiting(env: str, pool: str, minutes: int) -> AlertSpec:
    return AlertSpec(
        "target",
        automation_name(env, "flow run waiting on the work pool"),
        _unanswered(
            after={"prefect.flow-run.Pending", "prefect.flow-run.Late"},
            # Any next state ends the wait (a Late run's Pending starts a wait of its own).
            expect={"prefect.flow-run.*"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            related={"prefect.resource.role": "work-pool", "prefect.resource.name": pool},
            minutes=minutes,
        ),
        f"bootstrap-flows {env}: a flow run waits on {pool}",
        f"A flow run on work pool {pool} of environment {env} has been "
        '{{ event.resource["prefect.state-name"] }} for more than '
        f"{minutes} minutes: {{{{ event.resource.name }}}}" + _RUN_LINK,
    )


def specs(settings: BootstrapSettings) -> list[AlertSpec]:
    """The environment's automations (pure: what `ensure` makes)."""
    env, pool = settings.environment, settings.work_pool_name
    return [
        _drift(env),
        _check_failed(env),
        _run_failed(env),
        _no_worker(env, pool, settings.alert_worker_unhealthy_minutes),
        _run_waiting(env, pool, settings.alert_run_pending_minutes),
    ]


# --- Prefect ------------------------------------------------------------------------------------


@contextmanager
def _orchestrator() -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as client:
        yield client


Connect = Callable[[], AbstractContextManager[SyncPrefectClient]]


def _prefects(
    settings: BootstrapSettings, *, target: bool = True
) -> list[tuple[tuple[Where, ...], Connect]]:
    """The orchestrator and (with `target`) the target, one entry per Prefect API: where the two
    are one server (the embedded default), it is connected to, read and written once."""
    orchestrator: tuple[tuple[Where, ...], Connect] = (("orchestrator",), _orchestrator)
    if not target:
        return [orchestrator]
    if _same_api(target_prefect.orchestrator_api_url(), worker_api_url(resolve(settings))):
        return [(("orchestrator", "target"), _orchestrator)]
    return [orchestrator, (("target",), lambda: target_prefect.client(settings))]


def _same_api(url: str, other: str) -> bool:
    return url.rstrip("/") == other.rstrip("/")


def _on(settings: BootstrapSettings, wheres: tuple[Where, ...]) -> list[AlertSpec]:
    return [spec for spec in specs(settings) if spec.where in wheres]


_PREFECT: dict[Where, str] = {"orchestrator": "orchestrating", "target": "worker's"}


def block_document_id(client: SyncPrefectClient, slug: str, where: Where) -> UUID:
    """The notification block's document id; refused if absent or not a notification block."""
    block_type, _, name = slug.partition("/")
    try:
        document = client.read_block_document_by_name(name, block_type, include_secrets=False)
    except ObjectNotFound as exc:
        raise AlertsError(
            f"notification_block {slug}: the {_PREFECT[where]} Prefect has no such block; save it "
            "there (`prefect block create slack-webhook`, or the UI's Blocks page) or correct "
            "BOOTSTRAP_NOTIFICATION_BLOCK (`<block-type-slug>/<name>`); nothing was changed"
        ) from exc
    schema = document.block_schema
    if schema is None or "notify" not in schema.capabilities:
        raise AlertsError(
            f"notification_block {slug}: block type {block_type} cannot send notifications; "
            "name a notification block (slack-webhook, ms-teams-webhook, pager-duty-webhook, "
            "custom-webhook, ...) in BOOTSTRAP_NOTIFICATION_BLOCK; nothing was changed"
        )
    return document.id


def check_block(settings: BootstrapSettings) -> None:
    """Preflight: the block exists and notifies, on the orchestrator and on an existing target
    (a server stack's Prefect is made by the run: `ensure` looks there)."""
    if settings.notification_block is None:
        return
    for wheres, connect in _prefects(settings, target=settings.prefect_server != "aws"):
        with connect() as client:
            block_document_id(client, settings.notification_block, wheres[0])


def _ensure_on(
    client: SyncPrefectClient, settings: BootstrapSettings, wheres: tuple[Where, ...], block: UUID
) -> dict[str, str]:
    changes: dict[str, str] = {}
    for spec in _on(settings, wheres):
        if client.read_automations_by_name(spec.name):
            changes[spec.name] = "kept (it exists: left as it is)"
        else:
            client.create_automation(spec.automation(block, settings.environment))
            changes[spec.name] = "created"
    return changes


def ensure(settings: BootstrapSettings) -> dict[str, str]:
    """Make the environment's automations that are absent by name; {name: what happened}."""
    slug = settings.notification_block
    if slug is None:
        return {}
    changes: dict[str, str] = {}
    for wheres, connect in _prefects(settings):
        with connect() as client:
            try:
                block_id = block_document_id(client, slug, wheres[0])
            except AlertsError as exc:
                if wheres != ("target",) or settings.prefect_server != "aws":
                    raise
                # The server stack's Prefect is new: the block is saved there by a person.
                skipped = f"not made: {exc}; then run bootstrap again"
                changes |= {s.name: skipped for s in _on(settings, wheres)}
                continue
            changes |= _ensure_on(client, settings, wheres, block_id)
    return changes


def delete(settings: BootstrapSettings, logger: Logger | None = None) -> list[str]:
    """Delete the environment's automations by name (edited or not); return their names. A
    target that no longer answers (its server stack destroyed) took its automations along; one
    that is not known (prefect_server=aws and no server stack recorded) is skipped with a line:
    teardown needs nothing but the environment's name."""
    prefix = automation_name(settings.environment, "")
    deleted: list[str] = []
    unknown = target_prefect.unknown(settings)
    if unknown is not None:
        (logger or logging.getLogger(__name__)).info(
            "Deleting the environment's automations on the orchestrating Prefect only: %s", unknown
        )
    for wheres, connect in _prefects(settings, target=unknown is None):
        try:
            with connect() as client:
                for automation in client.read_automations():
                    if automation.name.startswith(prefix):
                        client.delete_automation(automation.id)
                        deleted.append(automation.name)
        except httpx.HTTPError:
            if "orchestrator" in wheres:
                raise
    return deleted
