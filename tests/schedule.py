"""How the suite is spread over pytest-xdist's workers (scripts/test.sh; README, Testing).

Each worker is a process with a local stack of its own (tests/support/session.py chooses ports and a
state dir per process). A worker is handed whole groups: a module, or the modules that share an
environment (`SHARED`), so a module's fixtures run once and a shared environment is bootstrapped
once; the tests of a `SPREAD` module go one by one. The slowest groups start first and the quick
ones fill the gaps at the end, so the suite ends about when its slowest group does. The seconds are
measured: `--record-module-seconds` rewrites `module_seconds.json`; a module not in it counts as
DEFAULT_SECONDS.

pytest-xdist's own `--dist loadgroup` cannot do this with pytest 9: it renames node ids through
an attribute pytest 9 no longer reads, and every test becomes a group of its own.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

MODULE_SECONDS_FILE = Path(__file__).parent / "module_seconds.json"
MODULE_SECONDS: dict[str, float] = json.loads(MODULE_SECONDS_FILE.read_text())
DEFAULT_SECONDS = 30.0

# Modules that take the worker's `local` environment as they find it (a no-change re-run when it
# is up) run on one worker, in file order: the first pays the cold bootstrap. test_drift changes
# the environment by hand and leaves it remediated and clean for those after it.
SHARED = (
    "tests/integration/test_drift.py",
    "tests/integration/test_environments.py",
    "tests/integration/test_own_flow_example.py",
)
SHARED_GROUP = "local-environment"

# Modules with no fixture wider than a test, whose tests each take seconds (a Terraform init
# each): spread over the workers test by test.
SPREAD = {"tests/integration/test_terraform_static.py"}


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def group_of(nodeid: str) -> str:
    """What one worker runs at a time: the module's shared group, else the module itself (or
    the test itself, in a SPREAD module)."""
    module = module_of(nodeid)
    if module in SPREAD:
        return nodeid
    return SHARED_GROUP if module in SHARED else module


class GroupScheduling(LoadScopeScheduling):
    """xdist's module-at-a-time scheduling, with the modules of a `SHARED` group as one."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> GroupScheduling | None:
    # scripts/test.sh asks for `--dist loadscope`; any other mode is xdist's own.
    return GroupScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-module-seconds",
        action="store_true",
        help=f"write each module's measured seconds to {MODULE_SECONDS_FILE.name}",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A module's measured seconds, spread evenly over its tests, summed per group.
    tests = Counter(module_of(item.nodeid) for item in items)
    seconds: dict[str, float] = {}
    for item in items:
        module, group = module_of(item.nodeid), group_of(item.nodeid)
        share = MODULE_SECONDS.get(module, DEFAULT_SECONDS) / tests[module]
        seconds[group] = seconds.get(group, 0.0) + share
    # A stable sort: each group's tests stay together, in file order.
    items.sort(key=lambda item: -seconds[group_of(item.nodeid)])


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
