"""Shared fixtures: the real local stack (moto, Prefect server, process worker) on free ports.

Ports, state dir and the worker's credential are chosen here, before Prefect is imported, so
Prefect's settings (read once at import) point at the test server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


FIXTURES = Path(__file__).parent / "fixtures"
STATE_DIR = Path(tempfile.mkdtemp(prefix="bootstrap-flows-test-"))
MOTO_PORT, PREFECT_PORT, REGISTRY_PORT = free_port(), free_port(), free_port()
POSTGRES_PORT, SERVER_PORT = free_port(), free_port()
# The environment files the flows read: the checkout's `local` only, so the examples of other
# environments (a region, a pool name) never change what a test of `dev` or `prod` sets up.
ENVIRONMENTS_DIR = STATE_DIR / "environments"
ENVIRONMENTS_DIR.mkdir()
shutil.copy(Path(__file__).parent.parent / "environments" / "local.env", ENVIRONMENTS_DIR)
# The worker's Prefect credential for this test session: must never show up in state or logs.
AUTH_STRING = f"worker:{secrets.token_hex(16)}"

os.environ.update(
    {
        "BOOTSTRAP_ENV_FILE": "/nonexistent",
        "BOOTSTRAP_ENVIRONMENTS_DIR": str(ENVIRONMENTS_DIR),
        "BOOTSTRAP_WORK_DIR": str(STATE_DIR),
        "BOOTSTRAP_LOCAL_STATE_DIR": str(STATE_DIR),
        "BOOTSTRAP_LOCAL_MOTO_PORT": str(MOTO_PORT),
        "BOOTSTRAP_LOCAL_PREFECT_PORT": str(PREFECT_PORT),
        "BOOTSTRAP_LOCAL_REGISTRY_PORT": str(REGISTRY_PORT),
        "BOOTSTRAP_LOCAL_POSTGRES_PORT": str(POSTGRES_PORT),
        "BOOTSTRAP_LOCAL_SERVER_PORT": str(SERVER_PORT),
        "BOOTSTRAP_PREFECT_API_AUTH_STRING": AUTH_STRING,
        # Two AZs keep the emulated apply quick; the count is still checked (2 x N subnets).
        "BOOTSTRAP_AZ_COUNT": "2",
        "PREFECT_API_URL": f"http://127.0.0.1:{PREFECT_PORT}/api",
        "PREFECT_HOME": str(STATE_DIR / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
    }
)


# How the modules are spread over pytest-xdist's workers (scripts/test.sh): tests/schedule.py.
pytest_plugins = ["tests.schedule"]


@pytest.fixture(scope="session")
def local_stack() -> Iterator[object]:
    """The embedded default, started by the project's own code, stopped by PID afterwards."""
    from bootstrap_flows.config.settings import load_settings
    from bootstrap_local import database
    from bootstrap_local import stack as stack
    from bootstrap_local.settings import load_local_settings

    settings, local = load_settings(), load_local_settings()
    stack.up(settings, local)
    # `up` skips PostgreSQL (with a note) on a machine without its binaries.
    expected = set(stack.SERVICES) - (set() if database.bin_dir() else {database.SERVICE})
    try:
        yield settings
    finally:
        stopped = stack.down(local)
        assert set(stopped) == expected, f"not all services were running: {stopped}"
