"""The call counter (bootstrap_flows/call_counts.py): a real HTTP server answers as Prefect,
moto answers as AWS; nothing of ours is replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from moto import mock_aws
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from bootstrap_flows import call_counts
from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings, load_settings
from bootstrap_flows.prefect_side.target_prefect import prove_credential


def serve() -> ThreadingHTTPServer:
    """Answers as a Prefect server with CSRF off: every work pool read finds none."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            csrf = self.path.startswith("/api/csrf-token")
            self.send_response(422 if csrf else 200)
            self.end_headers()
            self.wfile.write(b'{"detail": "CSRF protection is disabled."}' if csrf else b"{}")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def api() -> Iterator[str]:
    server = serve()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api"
    finally:
        server.shutdown()


@pytest.fixture
def counting() -> Iterator[None]:
    call_counts.start()
    try:
        yield
    finally:
        call_counts.stop()


def target_settings(api: str) -> BootstrapSettings:
    return load_settings(environment="prod", prefect_api_url=api, prefect_api_auth_string="u:p")


def test_off_nothing_is_installed() -> None:
    original = httpx.HTTPTransport.handle_request
    call_counts.start()
    call_counts.stop()
    assert httpx.HTTPTransport.handle_request is original
    assert call_counts.target_httpx_settings() is None
    assert call_counts.take() == {"prefect": {}, "aws": {}}


@pytest.mark.usefixtures("counting")
def test_target_and_orchestrator_requests_are_told_apart_on_one_server(api: str) -> None:
    # The embedded default: the orchestrator and the target are the same server.
    with temporary_settings({PREFECT_API_URL: api}):
        prove_credential(target_settings(api))  # CSRF token + work pool read: 2 on the target
        with get_client(sync_client=True) as client:
            client.read_work_pools()  # the orchestrator's
    counts = call_counts.take()["prefect"]
    assert counts["target"] == 2
    assert counts["orchestrator"] >= 1
    assert call_counts.take()["prefect"] == {}  # taken: counting starts again from zero


@pytest.mark.usefixtures("counting")
def test_aws_calls_are_counted_by_service(clean_env: None, api: str) -> None:
    with mock_aws():
        settings = target_settings(api)
        aws.client(settings, "sts").get_caller_identity()
        aws.client(settings, "s3").list_buckets()
        aws.client(settings, "s3").list_buckets()
    assert call_counts.take()["aws"] == {"sts": 1, "s3": 2}


def test_a_process_started_with_the_variable_writes_its_counts(api: str, tmp_path: Path) -> None:
    script = (
        "import bootstrap_flows.flows\n"
        "from prefect.client.orchestration import get_client\n"
        "with get_client(sync_client=True) as client:\n"
        "    client.read_work_pools()\n"
    )
    env = dict(os.environ, BOOTSTRAP_COUNT_CALLS=str(tmp_path), PREFECT_API_URL=api)
    subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, check=True, timeout=120
    )
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1, files
    counts = json.loads(files[0].read_text())
    assert counts["prefect"]["orchestrator"] >= 1 and counts["aws"] == {}
