"""Runs that end as designed, in a state that is not Completed, read as such in their logs.

Each run goes through Prefect's own engine entry point in a process of its own
(`python -m prefect.flow_engine <entrypoint>`, what a worker starts for a flow run), since that
entry point is what logs the engine's ERROR traceback when a flow ends Failed or Cancelled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import pytest
from prefect import Flow, flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import State

from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.flows.drift_check import drift_check
from bootstrap_flows.flows.teardown import teardown
from bootstrap_flows.safety.approval import NotApproved, final_state
from bootstrap_local.served import Served
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
    name, _, lines = logged_in_full(run_id)
    return name, [(level, message.split("\n")[0]) for level, message in lines]


def logged_in_full(run_id: UUID) -> tuple[str | None, str, list[tuple[int, str]]]:
    """The run's final state name and message, and its log records as (level, message)."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    name, message = (state.name, state.message or "") if state else (None, "")
    return name, message, [(log.level, log.message) for log in logs]


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


@pytest.fixture
def rate_limiting_prefect() -> Iterator[str]:
    """A Prefect API that is up (/health) and answers every other call 429, `Retry-After: 0`
    (so Prefect's client runs through its retries at once); yields its API URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer()

        def answer(self) -> None:
            healthy = self.path == "/api/health"
            self.send_response(200 if healthy else 429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b"true" if healthy else b'{"detail": "Too many requests"}')

        def log_message(self, *args: object) -> None:
            pass

    with Served(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as served:
        host, port = served.host_port
        yield f"http://{host}:{port}/api"


@pytest.mark.parametrize(
    ("entrypoint", "flow_", "ends"),
    [
        # The check could not run: CheckFailed (what its alert watches), the rate limit its reason.
        ("bootstrap_flows/flows/drift_check.py:drift_check", drift_check, "CheckFailed"),
        ("bootstrap_flows/flows/teardown.py:teardown", teardown, "RateLimited"),
    ],
    ids=["drift-check", "teardown"],
)
def test_a_run_rate_limited_by_the_workers_prefect_says_so_in_one_line(
    local_stack: BootstrapSettings,
    rate_limiting_prefect: str,
    entrypoint: str,
    flow_: Flow[Any, Any],
    ends: str,
) -> None:
    run_id = run_in_engine(
        entrypoint,
        flow_,
        environment="local",
        overrides={"prefect_api_url": rate_limiting_prefect},
    )
    name, message, lines = logged_in_full(run_id)
    assert name == ends, (name, message)
    assert "rate limited: the worker's Prefect API" in message, message
    assert "HTTP 429" in message and "per account" in message, message
    assert not [text for _, text in lines if "Traceback" in text], lines
    errors = [text for level, text in lines if level >= ERROR]
    assert not any("Engine execution exited" in text for text in errors), errors
