"""Shared fixtures: the real local stack (moto, Prefect server, process worker) on free ports.

Ports, state dir and the worker's credential are chosen here, before Prefect is imported, so
Prefect's settings (read once at import) point at the test server.
"""

from __future__ import annotations

import json
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


# --- the order modules start in ---------------------------------------------------------------
# scripts/test.sh runs the suite on pytest-xdist workers, each with a local stack of its own (the
# ports and state dir above are chosen per process). `--dist loadgroup` hands a worker whole
# groups (a module, or modules that share an environment) in collection order, so the slowest
# start first and the quick ones fill the gaps at the end: the suite then ends about when its
# slowest group does. The seconds are measured
# (`--record-module-seconds` rewrites the file); a module not in it counts as DEFAULT_SECONDS.
MODULE_SECONDS_FILE = Path(__file__).parent / "module_seconds.json"
MODULE_SECONDS: dict[str, float] = json.loads(MODULE_SECONDS_FILE.read_text())
DEFAULT_SECONDS = 30.0


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-module-seconds",
        action="store_true",
        help=f"write each module's measured seconds to {MODULE_SECONDS_FILE.name}",
    )


def group_of(item: pytest.Item) -> str:
    """The module's `xdist_group`, if it shares an environment (see `SHARED_LOCAL`), else the
    module itself: whatever runs on one worker at a time, in one process."""
    marker = item.get_closest_marker("xdist_group")
    return str(marker.args[0]) if marker else module_of(item.nodeid)


# Modules that read the worker's `local` environment where they find it up (bootstrapping it only
# when it is not) share one worker, in file order: the first to run pays the cold bootstrap.
SHARED_LOCAL = pytest.mark.xdist_group("local-environment")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups into node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    seconds: dict[str, float] = {}
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(module_of(item.nodeid)))
    for module, group in {module_of(i.nodeid): group_of(i) for i in items}.items():
        seconds[group] = seconds.get(group, 0.0) + MODULE_SECONDS.get(module, DEFAULT_SECONDS)
    # A stable sort: each group's tests stay together and in their file order.
    items.sort(key=lambda item: -seconds[group_of(item)])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Seconds per module (setup, call and teardown of its tests), slowest first."""
    seconds: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport):
                module = module_of(report.nodeid)
                seconds[module] = seconds.get(module, 0.0) + report.duration
    slowest = sorted(seconds.items(), key=lambda pair: -pair[1])
    terminalreporter.write_sep("=", "seconds per module (slowest 25)")
    for module, total in slowest[:25]:
        terminalreporter.write_line(f"{total:8.1f}s  {module}")
    if terminalreporter.config.getoption("--record-module-seconds") and seconds:
        measured = {module: round(total, 1) for module, total in slowest}
        MODULE_SECONDS_FILE.write_text(json.dumps(measured, indent=1) + "\n")


@pytest.fixture(scope="session")
def local_stack() -> Iterator[object]:
    """The embedded default, started by the project's own code, stopped by PID afterwards."""
    from bootstrap_flows.local import database
    from bootstrap_flows.local import stack as stack
    from bootstrap_flows.settings import load_settings

    settings = load_settings()
    stack.up(settings)
    # `up` skips PostgreSQL (with a note) on a machine without its binaries.
    expected = set(stack.SERVICES) - (set() if database.bin_dir() else {database.SERVICE})
    try:
        yield settings
    finally:
        stopped = stack.down(settings)
        assert set(stopped) == expected, f"not all services were running: {stopped}"
