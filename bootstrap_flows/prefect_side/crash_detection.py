"""A bootstrap whose process died shows `Crashed`, not `Running` forever.

A flow run's engine emits a `prefect.flow-run.heartbeat` event every
`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds (Prefect's default: 180). When the whole process
tree dies (SIGKILL, a lost machine or container) nothing is left to report the run's end, so
Prefect keeps showing it `Running`. The automation made here is Prefect's "detect zombie flows"
recipe: once a run has sent a heartbeat, it expects another one (or the run's end) within
`MISSED_HEARTBEATS` heartbeat intervals, and marks the run Crashed when none comes.

It belongs to the orchestrator (the Prefect that runs bootstrap), with the heartbeat frequency
on the worker of the `bootstrap` pool: the embedded default's `local up` sets both. For your
own orchestrator, give that worker `PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30` and run once, with
`PREFECT_API_URL` pointing at it:

    python -m bootstrap_flows.prefect_side.crash_detection        # or: ensure_crash_detection()

It only watches runs of bootstrap-flows' own flows started from a deployment (the runs that
worker executes), so a run of another flow, or one started in a plain Python process at
Prefect's default frequency, is never marked Crashed by it.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

HEARTBEAT_ENV = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
# Prefect's minimum; a dead run is then marked Crashed within about 1.5-2 minutes.
HEARTBEAT_SECONDS = 30
# Heartbeats a run may miss (a busy machine, a slow API) before it counts as dead.
MISSED_HEARTBEATS = 3
AUTOMATION_NAME = "bootstrap-flows: mark runs without heartbeats Crashed"
FLOWS = ("bootstrap", "teardown", "drift-check")
# The events that end a run: after one of them no heartbeat is due.
_FINAL_EVENTS = {
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
}


def worker_environment(heartbeat_seconds: int = HEARTBEAT_SECONDS) -> dict[str, str]:
    """What the `bootstrap` pool's worker needs so its flow runs heartbeat this often."""
    return {HEARTBEAT_ENV: str(heartbeat_seconds)}


def automation(
    heartbeat_seconds: int = HEARTBEAT_SECONDS, flows: tuple[str, ...] = FLOWS
) -> AutomationCore:
    """The automation marking a run of `flows` Crashed when its heartbeats stop."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    # Prefect sends heartbeats no more often than every 30 s, whatever is asked.
    within = timedelta(seconds=max(heartbeat_seconds, 30) * MISSED_HEARTBEATS)
    return AutomationCore(
        name=AUTOMATION_NAME,
        description=(
            f"Runs of {', '.join(flows)} from a deployment heartbeat every {heartbeat_seconds} s "
            f"({HEARTBEAT_ENV} on the bootstrap pool's worker); one silent for "
            f"{int(within.total_seconds())} s has lost its process."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *_FINAL_EVENTS},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            # Both must hold: one of our flows, and run by a worker (where the frequency is set).
            match_related=[
                ResourceSpecification(
                    {"prefect.resource.role": "flow", "prefect.resource.name": list(flows)}
                ),
                ResourceSpecification({"prefect.resource.role": "deployment"}),
            ],
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                name="Crashed",
                state=StateType.CRASHED,
                # Running -> Crashed is allowed; forcing could overwrite a final state that
                # raced with this action.
                force=False,
                message=(
                    f"No heartbeat for {int(within.total_seconds())} s: the process running "
                    "this flow run died (killed, or its machine was lost)."
                ),
            )
        ],
    )


def ensure_crash_detection(
    heartbeat_seconds: int = HEARTBEAT_SECONDS, flows: tuple[str, ...] = FLOWS
) -> str:
    """Create (or bring up to date) the automation on the current Prefect API.

    Returns "created", "updated" or "unchanged"; safe to call on every start.
    """
    from prefect.client.orchestration import get_client

    wanted = automation(heartbeat_seconds, flows)
    fields = set(type(wanted).model_fields)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        if not existing:
            client.create_automation(wanted)
            return "created"
        current = existing[0]
        if current.model_dump(include=fields) == wanted.model_dump(include=fields):
            return "unchanged"
        client.update_automation(current.id, wanted)
        return "updated"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    seconds = int(args[0]) if args else HEARTBEAT_SECONDS
    change = ensure_crash_detection(seconds)
    print(
        f"{AUTOMATION_NAME}: {change} (give the bootstrap pool's worker {HEARTBEAT_ENV}={seconds})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
