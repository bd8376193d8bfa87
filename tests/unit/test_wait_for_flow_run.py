"""Waiting on a run through a server's bad moment, and a rate limit past Prefect's retries: a
real HTTP server answers the reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import uuid4

import pytest
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import PrefectHTTPStatusError

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.prefect_side.rate_limit import RateLimited
from bootstrap_flows.prefect_side.target_prefect import prove_credential, wait_for_flow_run

RUN = FlowRun(flow_id=uuid4(), state=State(type=StateType.COMPLETED))


class Answers:
    """The status codes the server answers run reads with, in order; then the run itself."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.reads = 0


def serve(answers: Answers) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer(RUN.model_dump_json())

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer("[]")

        def answer(self, body: str) -> None:
            if self.path.startswith("/api/csrf-token"):  # as a server with CSRF off answers
                self.send_response(422)
                self.end_headers()
                self.wfile.write(b'{"detail": "CSRF protection is disabled."}')
                return
            answers.reads += 1
            status = answers.statuses.pop(0) if answers.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if status == 429:  # at once: Prefect's client honours it
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write((body if status == 200 else '{"exception_message": "x"}').encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def answers() -> Answers:
    return Answers([])


@pytest.fixture
def settings(answers: Answers) -> Iterator[BootstrapSettings]:
    server = serve(answers)
    try:
        yield load_settings(
            environment="prod",
            prefect_api_url=f"http://127.0.0.1:{server.server_port}/api",
            prefect_api_auth_string="prefect:not-a-secret",
        )
    finally:
        server.shutdown()


def test_server_errors_for_a_while_are_waited_through(
    settings: BootstrapSettings, answers: Answers
) -> None:
    answers.statuses = [500, 500]
    run = wait_for_flow_run(settings, RUN.id, timeout=30, poll_seconds=0.01)
    assert run.id == RUN.id and answers.reads == 3


def test_server_errors_past_the_grace_are_raised(
    settings: BootstrapSettings, answers: Answers
) -> None:
    answers.statuses = [500] * 1000
    with pytest.raises(PrefectHTTPStatusError, match="500"):
        wait_for_flow_run(settings, RUN.id, timeout=30, poll_seconds=0.01, error_grace=0.2)


def test_a_client_error_is_raised_at_once(settings: BootstrapSettings, answers: Answers) -> None:
    answers.statuses = [403]
    with pytest.raises(PrefectHTTPStatusError, match="403"):
        wait_for_flow_run(settings, RUN.id, timeout=30, poll_seconds=0.01)
    assert answers.reads == 1


# Prefect's client retries a 429 this many times by itself before it gives up (its default).
PREFECT_RETRIES = 5


def test_a_rate_limit_past_prefects_retries_is_one_readable_error(
    settings: BootstrapSettings, answers: Answers
) -> None:
    # Retry-After: 0 (see serve): Prefect's own retries run at once.
    answers.statuses = [429] * 1000
    with pytest.raises(RateLimited) as raised:
        wait_for_flow_run(settings, RUN.id, timeout=30, poll_seconds=0.01)
    message = str(raised.value)
    assert f"GET /api/flow_runs/{RUN.id}" in message
    assert "worker's Prefect API" in message and "429" in message
    assert "per account" in message and "PREFECT_CLIENT_MAX_RETRIES" in message
    # Prefect's client retried it; we did not add retries of our own on top.
    assert answers.reads == 1 + PREFECT_RETRIES


def test_a_rate_limit_that_ends_within_prefects_retries_is_not_seen(
    settings: BootstrapSettings, answers: Answers
) -> None:
    answers.statuses = [429] * PREFECT_RETRIES
    run = wait_for_flow_run(settings, RUN.id, timeout=30, poll_seconds=0.01)
    assert run.id == RUN.id and answers.reads == PREFECT_RETRIES + 1


def test_proving_the_credential_while_rate_limited_says_so(
    settings: BootstrapSettings, answers: Answers
) -> None:
    # Not "refused the worker's credential": the key may be fine, the account is busy.
    answers.statuses = [429] * 1000
    with pytest.raises(RateLimited, match=r"POST /api/work_pools/filter with HTTP 429"):
        prove_credential(settings)
    assert answers.reads == 1 + PREFECT_RETRIES
