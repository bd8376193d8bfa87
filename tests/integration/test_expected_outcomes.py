"""Runs that end as designed, in a state that is not Completed, read as such in their logs.

Each run goes through Prefect's own engine entry point in a process of its own
(`python -m prefect.flow_engine <entrypoint>`, what a worker starts for a flow run), since that
entry point is what logs the engine's ERROR traceback when a flow ends Failed or Cancelled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any
from uuid import UUID

import pytest
from prefect import Flow, flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import State

from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.flows.drift_check import drift_check
from bootstrap_flows.safety.approval import NotApproved, final_state
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

ERROR = 40


@flow(name="rejected")
def rejected() -> State[Any]:
    """Ends as bootstrap and teardown do when a person rejects the plan (flows/bootstrap.py)."""
    return final_state(NotApproved("Rejected", "the platform plan was rejected; nothing changed"))


def run_in_engine(entrypoint: str, flow_: Flow[Any, Any], **parameters: Any) -> UUID:
    """Create a run of `flow_` and run it as a worker's process does; return its id."""
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(flow_, parameters=parameters)
    env = dict(os.environ, PREFECT__FLOW_RUN_ID=str(run.id))
    subprocess.run(
        [sys.executable, "-m", "prefect.flow_engine", entrypoint],
        cwd=PROJECT_ROOT,
        env=env,
        check=False,
        timeout=300,
    )
    return run.id


def logged(run_id: UUID) -> tuple[str | None, list[tuple[int, str]]]:
    """The run's final state name, and its log lines as (level, first line)."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    return (state.name if state else None), [
        (log.level, log.message.split("\n")[0]) for log in logs
    ]


def test_a_rejected_run_logs_no_error(local_stack: BootstrapSettings) -> None:
    name, lines = logged(run_in_engine(f"{__file__}:rejected", rejected))
    assert name == "Rejected"
    assert [line for line in lines if line[0] >= ERROR] == [], lines


def test_a_check_that_could_not_run_logs_its_reason_not_a_traceback(
    local_stack: BootstrapSettings,
) -> None:
    # Nothing listens there: AWS is unreachable, the check cannot run.
    overrides = {"aws_endpoint_url": f"http://127.0.0.1:{free_port()}"}
    run_id = run_in_engine(
        "bootstrap_flows/flows/drift_check.py:drift_check",
        drift_check,
        environment="local",
        overrides=overrides,
    )
    name, lines = logged(run_id)
    assert name == "CheckFailed"
    errors = [line for line in lines if line[0] >= ERROR]
    assert not any("Engine execution exited" in message for _, message in errors), lines
    assert any("CheckFailed" in message for _, message in lines), lines
