"""Waiting on a run through a server's bad moment: a real HTTP server answers the reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import uuid4

import pytest
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import PrefectHTTPStatusError

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.prefect_side.target_prefect import wait_for_flow_run

RUN = FlowRun(flow_id=uuid4(), state=State(type=StateType.COMPLETED))


class Answers:
    """The status codes the server answers run reads with, in order; then the run itself."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.reads = 0


def serve(answers: Answers) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            answers.reads += 1
            status = answers.statuses.pop(0) if answers.statuses else 200
            body = RUN.model_dump_json() if status == 200 else '{"exception_message": "x"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

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
