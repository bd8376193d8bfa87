"""The approval gate, through the real Prefect API, real Terraform and the emulated AWS.

A one-resource stack keeps each case to seconds: an SSM parameter whose name forces a
replacement and whose value is an in-place update. The flow under test converges it exactly as
bootstrap converges its stacks (`stages.converge`); the test answers the paused run's form the
way the UI does (`resume_flow_run` with the input), from another thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.schemas.objects import State, StateType
from prefect.flow_runs import resume_flow_run

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.flows.stages import converge
from bootstrap_flows.safety.approval import NotApproved, final_state
from bootstrap_flows.terraform import stacks
from tests.support import platform_state
from tests.support.paused import Running

pytestmark = pytest.mark.slow

STACK = "gate"
BUCKET = "gate-tfstate"
MAIN_TF = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
  backend "s3" {}
}

provider "aws" {
  region = var.region
}

variable "region" { type = string }
variable "name" { type = string }
variable "value" { type = string }

resource "aws_ssm_parameter" "this" {
  name  = var.name
  type  = "String"
  value = var.value
}
"""


@flow(name="gated")
def gated(settings: BootstrapSettings, variables: dict[str, Any]) -> str | State[Any]:
    """Converge the one-resource stack as bootstrap converges each of its stacks."""
    try:
        plan, _ = converge(settings, STACK, BUCKET, variables)
    except NotApproved as refused:
        return final_state(refused)
    return "applied" if plan.has_changes else "unchanged"


@pytest.fixture(scope="module")
def settings(
    local_stack: BootstrapSettings, tmp_path_factory: pytest.TempPathFactory
) -> BootstrapSettings:
    root = tmp_path_factory.mktemp("gate")
    (root / "stacks" / STACK).mkdir(parents=True)
    (root / "stacks" / STACK / "main.tf").write_text(MAIN_TF)
    s3 = aws.client(local_stack, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    # Long enough for a test to answer after an apply of its own (under the suite's load); the
    # case of nobody answering shortens it.
    gate = local_stack.model_copy(
        update={"environment": "gate", "terraform_dir": root, "approval_timeout": 300}
    )
    # Applied once, so every case starts from a stack that exists.
    assert gated(gate, variables("/gate/a", "1")) == "applied"
    return gate


def variables(name: str, value: str) -> dict[str, Any]:
    return {"region": "us-east-1", "name": name, "value": value}


def state_versions(settings: BootstrapSettings) -> list[str]:
    return [v["VersionId"] for v in platform_state.state_versions(settings, STACK, BUCKET)]


def parameter(settings: BootstrapSettings) -> tuple[str, str]:
    """The one parameter the stack holds: (name, value)."""
    (found,) = aws.client(settings, "ssm").get_parameters_by_path(Path="/gate")["Parameters"]
    return found["Name"], found["Value"]


@pytest.fixture
def at(settings: BootstrapSettings, tmp_path: Path) -> Iterator[BootstrapSettings]:
    """Each case starts from /gate/a = 1."""
    yield settings
    apply_elsewhere(settings, variables("/gate/a", "1"), tmp_path / "reset")


def apply_elsewhere(settings: BootstrapSettings, wanted: dict[str, Any], work_dir: Path) -> None:
    """An apply by someone else (another machine, a person with the CLI): it moves the state."""
    logger = logging.getLogger("someone-else")
    terraform, var_file = stacks.open_stack(settings, STACK, BUCKET, wanted, logger, work_dir)
    terraform.apply(terraform.plan(var_file=var_file))


def test_an_update_in_a_non_prod_environment_does_not_pause(at: BootstrapSettings) -> None:
    assert gated(at, variables("/gate/a", "2")) == "applied"
    assert parameter(at) == ("/gate/a", "2")


def test_a_replacement_pauses_and_rejecting_changes_nothing(at: BootstrapSettings) -> None:
    versions = state_versions(at)
    run = Running(gated, at, variables("/gate/b", "1"))
    resume_flow_run(run.paused_run(), run_input={"approve": False, "comment": "not today"})
    state = run.final()
    assert (state.type, state.name) == (StateType.CANCELLED, "Rejected")
    assert "not today" in (state.message or "")
    assert parameter(at) == ("/gate/a", "1")
    assert state_versions(at) == versions


def test_approving_applies_the_plan_shown(at: BootstrapSettings) -> None:
    run = Running(gated, at, variables("/gate/b", "1"))
    resume_flow_run(run.paused_run(), run_input={"approve": True, "comment": "go"})
    state = run.final()
    assert state.is_completed() and state.result() == "applied"
    assert parameter(at) == ("/gate/b", "1")


def test_a_plan_made_stale_by_another_apply_is_asked_again(
    at: BootstrapSettings, tmp_path: Path
) -> None:
    run = Running(gated, at, variables("/gate/c", "1"))
    first = run.paused_run()
    apply_elsewhere(at, variables("/gate/a", "5"), tmp_path)  # the state moves under the plan
    resume_flow_run(first, run_input={"approve": True})
    # The stale plan is not applied: a new plan, a new question.
    second = run.paused_run(after=1)
    assert parameter(at) == ("/gate/a", "5")
    resume_flow_run(second, run_input={"approve": True})
    assert run.final().is_completed()
    assert parameter(at) == ("/gate/c", "1")


def test_no_answer_times_out_and_changes_nothing(at: BootstrapSettings) -> None:
    versions = state_versions(at)
    run = Running(gated, at.model_copy(update={"approval_timeout": 10}), variables("/gate/d", "1"))
    run.paused_run()
    state = run.final(timeout=60)
    assert (state.type, state.name) == (StateType.CANCELLED, "TimedOut")
    assert state_versions(at) == versions
    assert parameter(at) == ("/gate/a", "1")
