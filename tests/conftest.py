"""Shared fixtures: the real local stack (moto, Prefect server, process worker) on free ports.

Ports, state dir and the worker's credential are chosen by tests/support/session.py, imported
here before Prefect is, and put into the environment here, so Prefect's settings (read once at
import) point at the test server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bootstrap_flows.terraform.runner import GO_GC_PERCENT
from tests.support.session import (
    AUTH_STRING,
    DNS_PORT,
    ENVIRONMENTS_DIR,
    MOTO_PORT,
    POSTGRES_PORT,
    PREFECT_PORT,
    REGISTRY_PORT,
    SERVER_PORT,
    STATE_DIR,
)

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
        "BOOTSTRAP_LOCAL_DNS_PORT": str(DNS_PORT),
        "BOOTSTRAP_PREFECT_API_AUTH_STRING": AUTH_STRING,
        # Two AZs keep the emulated apply quick; the count is still checked (2 x N subnets).
        "BOOTSTRAP_AZ_COUNT": "2",
        "PREFECT_API_URL": f"http://127.0.0.1:{PREFECT_PORT}/api",
        "PREFECT_HOME": str(STATE_DIR / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
    }
)
# The tests that run Terraform themselves (and the registry, Go too) collect as bootstrap's runs do.
os.environ.setdefault("GOGC", GO_GC_PERCENT)


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
