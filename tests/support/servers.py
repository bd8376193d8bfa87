"""Servers a test module starts for itself (the session's local stack is in conftest)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.moto_api import recorder
from moto.server import ThreadedMotoServer

from bootstrap_local import prefect_database
from bootstrap_local.moto_server import record_operator_calls, record_role_calls
from bootstrap_local.processes import stop_group
from bootstrap_local.stack import MOTO_SERVER
from bootstrap_local.target import MOTO_READY_PATH
from tests.support.ports import free_port


@contextmanager
def moto_in_process() -> Iterator[str]:
    """moto in this process (stock, or as this process patched it) on a free port; its URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def recording_moto(
    monkeypatch: pytest.MonkeyPatch, roles: Path, operator: Path | None = None
) -> Iterator[str]:
    """moto in this process, recording as the local stack does: role calls to `roles`, and with
    `operator` the calls signed with the key `testing`. moto's recorder, which the recording
    replaces, is put back after the test."""
    for name in ("_record_request", "_location", "_user_enabled"):
        monkeypatch.setattr(recorder, name, getattr(recorder, name))
    record_role_calls(roles)
    if operator is not None:
        record_operator_calls(operator, "testing")
    with moto_in_process() as url:
        yield url


def moto_client(endpoint: str, service: str, keys: dict[str, str], region: str) -> Any:
    """A boto3 client of the moto at `endpoint`, signing with `keys` (boto3's argument names)."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=region,
        **keys,
    )


@contextmanager
def moto_server(
    log: Path,
    managed_policies: bool = False,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> Iterator[str]:
    """A moto server on a free port, ready to answer; yields its URL, stops it by PID. `args`
    go to bootstrap_local/moto_server.py (--record-operator-calls FILE --operator-key KEY)."""
    port = free_port()
    env = {**os.environ, **(env or {})}
    if managed_policies:
        # AmazonECSTaskExecutionRolePolicy and friends can only be loaded at start.
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    with log.open("wb") as out:
        process = subprocess.Popen(
            # The embedded default's moto: patched where AWS behaves otherwise.
            [sys.executable, "-m", MOTO_SERVER, *(args or []), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"moto exited; see {log}"
            try:
                if httpx.get(f"{url}{MOTO_READY_PATH}", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"moto did not start; see {log}"
            time.sleep(0.3)
        yield url
    finally:
        stop_group(process.pid)
        process.wait(timeout=5)


@contextmanager
def prefect_server(home: Path, auth_string: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A second Prefect server (SQLite under `home`) with basic auth on; yields its API URL.

    The Prefect a worker talks to when it is not the orchestrator's: its log is `home/server.log`.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    user, _, password = auth_string.partition(":")
    database = home / "prefect.db"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_database.connection_url(database),
        "PREFECT_SERVER_API_AUTH_STRING": auth_string,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    prefect_database.prepare(database, env)
    prefect = Path(sys.executable).parent / "prefect"
    with (home / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, (home / "server.log").read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", auth=(user, password), timeout=2).is_success:
                    break
            time.sleep(0.5)
        yield url, process
    finally:
        stop_group(process.pid, grace=30)
        process.wait(timeout=5)
