"""When a plan needs a person's approval, and what they are shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.safety.approval import describe, destructive, reason_to_ask, replace_paths
from bootstrap_flows.terraform.runner import PlannedChange, PlanResult

pytestmark = pytest.mark.usefixtures("clean_env")


def plan(*changes: tuple[str, str]) -> PlanResult:
    counted = {"add": 0, "change": 0, "remove": 0}
    for _, action in changes:
        counted[{"create": "add", "update": "change"}.get(action, "remove")] += 1
    return PlanResult(Path("p"), [PlannedChange(a, k) for a, k in changes], counts=counted)


LOCAL = load_settings()
PROD = dict(
    environment="prod",
    prefect_api_url="https://api.prefect.cloud/api/accounts/a/workspaces/w",
    prefect_api_key="k",
)


def test_additions_and_updates_outside_prod_go_ahead() -> None:
    assert (
        reason_to_ask(LOCAL, plan(("aws_vpc.this", "create"), ("aws_sqs_queue.q", "update")))
        is None
    )
    assert reason_to_ask(LOCAL, plan()) is None


def test_deleting_or_replacing_anything_asks() -> None:
    why = reason_to_ask(LOCAL, plan(("aws_vpc.this", "replace"), ("aws_eip.nat", "delete")))
    assert why == "it would delete or replace 2 resource(s)"


def test_a_new_task_definition_revision_is_routine() -> None:
    routine = plan(("module.worker_service.aws_ecs_task_definition.this", "replace"))
    assert destructive(routine) == []
    assert reason_to_ask(LOCAL, routine) is None
    deleted = plan(("module.worker_service.aws_ecs_task_definition.this", "delete"))
    assert destructive(deleted) == ["module.worker_service.aws_ecs_task_definition.this"]


def test_prod_asks_for_every_change_and_settings_can_say_otherwise() -> None:
    update = plan(("aws_sqs_queue.q", "update"))
    assert reason_to_ask(load_settings(**PROD), update) == (
        "environment 'prod' requires approval of every change"
    )
    assert reason_to_ask(load_settings(**PROD, require_approval=False), update) is None
    assert reason_to_ask(load_settings(require_approval=True), update) is not None
    assert reason_to_ask(load_settings(**PROD), plan()) is None  # nothing to approve


def test_the_form_shows_each_change_and_what_forces_a_replacement() -> None:
    shown = {
        "resource_changes": [
            {
                "address": "module.network.aws_vpc.this",
                "change": {"replace_paths": [["cidr_block"]]},
            },
            {"address": "aws_sqs_queue.q", "change": {"actions": ["update"]}},
        ]
    }
    forced = replace_paths(shown)
    assert forced == {"module.network.aws_vpc.this": ["cidr_block"]}
    text = describe(
        "platform",
        plan(("module.network.aws_vpc.this", "replace"), ("aws_sqs_queue.q", "update")),
        "it would delete or replace 1 resource(s)",
        forced,
    )
    assert "| `module.network.aws_vpc.this` | **replace** | `cidr_block` |" in text
    assert "| `aws_sqs_queue.q` | **update** |  |" in text
    assert "Asking because it would delete or replace 1 resource(s)" in text
