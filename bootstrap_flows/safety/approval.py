"""The approval gate: a plan that deletes or replaces anything (or any plan of an environment that
requires approval) waits for a person in the Prefect UI before it is applied.

The paused run carries the plan as a table (address, action, and for a replacement the
attributes that force it) and a form: approve or reject, with a comment. Approve applies exactly
the saved plan that was shown; reject or no answer within `approval_timeout` changes nothing and
ends the run in a state named `Rejected` or `TimedOut`.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Cancelled
from pydantic import Field

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.terraform.runner import PlannedChange, PlanResult

DESTRUCTIVE = ("delete", "replace")
# Replaced on every change by design and holding nothing: a new task-definition revision is how
# ECS rolls out a new image or size. Listed in the plan, but no reason to stop and ask.
ROUTINE_REPLACEMENTS = ("aws_ecs_task_definition.",)
# Seconds between checks for an answer while paused.
POLL_SECONDS = 2


class Approval(RunInput):
    """The form a paused run shows."""

    approve: bool = Field(False, description="Apply exactly the plan shown above.")
    comment: str = Field("", description="Why; logged with the decision.")


class NotApproved(BootstrapError):
    """Nobody approved the plan; nothing was changed. `outcome` names the run's final state."""

    def __init__(self, outcome: Literal["Rejected", "TimedOut"], message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def _routine(change: PlannedChange) -> bool:
    resource = change.address.rsplit(".", 2)
    kind = ".".join(resource[-2:]) if len(resource) >= 2 else change.address
    return change.action == "replace" and kind.startswith(ROUTINE_REPLACEMENTS)


def destructive(plan: PlanResult) -> list[str]:
    """The addresses the plan would delete or replace (routine replacements aside)."""
    return [
        change.address
        for change in plan.changes
        if change.action in DESTRUCTIVE and not _routine(change)
    ]


def reason_to_ask(settings: BootstrapSettings, plan: PlanResult) -> str | None:
    """Why this plan needs a person's approval, or None when it may be applied as it is."""
    if not plan.has_changes:
        return None
    at_stake = destructive(plan)
    if at_stake:
        return f"it would delete or replace {len(at_stake)} resource(s)"
    if settings.require_approval:
        return f"environment {settings.environment!r} requires approval of every change"
    return None


def replace_paths(shown: dict[str, Any]) -> dict[str, list[str]]:
    """Address -> the attributes that force its replacement (`terraform show -json`)."""
    forced: dict[str, list[str]] = {}
    for change in shown.get("resource_changes") or []:
        paths = change.get("change", {}).get("replace_paths") or []
        if paths:
            forced[change["address"]] = [".".join(map(str, path)) for path in paths]
    return forced


def describe(stack: str, plan: PlanResult, reason: str, forced: dict[str, list[str]]) -> str:
    """The markdown a person reads before deciding: why, the counts, every change."""
    counts = ", ".join(f"{n} to {k}" for k, n in plan.counts.items() if n) or "no changes"
    rows = "\n".join(
        f"| `{c.address}` | **{c.action}** | "
        + ", ".join(f"`{path}`" for path in forced.get(c.address, []))
        + " |"
        for c in plan.changes
    )
    return (
        f"### Approve the {stack} plan?\n\nAsking because {reason}. Plan: {counts}.\n\n"
        f"| address | action | forced by |\n|---|---|---|\n{rows}\n\n"
        "Approve applies exactly this saved plan; reject changes nothing."
    )


def ask(settings: BootstrapSettings, stack: str, description: str) -> None:
    """Pause the flow run until a person answers; raise NotApproved unless they approve.

    Called from the flow itself (a paused run is a flow-run state, not a task's).
    """
    logger = get_run_logger()
    logger.warning("Waiting for approval of the %s plan (see the run's input form)", stack)
    form = Approval.with_initial_data(description=description)
    try:
        answer = pause_flow_run(
            wait_for_input=form,
            timeout=settings.approval_timeout,
            poll_interval=POLL_SECONDS,
            # No key: each pause gets a new one. A repeated key would hand back the answer
            # given to an earlier pause (Prefect treats it as the same pause resumed).
        )
    except FlowPauseTimeout as exc:
        refused = NotApproved(
            "TimedOut",
            f"nobody approved the {stack} plan within {settings.approval_timeout} s; "
            "nothing was changed",
        )
        _end_expired_pause(refused)
        raise refused from exc
    comment = f" ({answer.comment})" if answer.comment else ""
    if not answer.approve:
        logger.warning("The %s plan was rejected%s", stack, comment)
        raise NotApproved("Rejected", f"the {stack} plan was rejected{comment}; nothing changed")
    logger.info("The %s plan was approved%s", stack, comment)


def _end_expired_pause(refused: NotApproved) -> None:
    """Record the run's end before it returns: once a pause expires, Prefect's orchestration
    turns any state the run proposes into Failed ("never resumed"), and nothing failed here."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    logger = get_run_logger()
    logger.warning("%s", refused)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(context.flow_run.id, final_state(refused), force=True)


def final_state(refused: NotApproved) -> State[Any]:
    """The run's end when nobody approved: not Failed, since nothing went wrong or changed."""
    return Cancelled(name=refused.outcome, message=str(refused))
