"""The suite's own schedule (tests/schedule.py): what keeps it inside its time budget."""

from __future__ import annotations

from bootstrap_flows.config.settings import PROJECT_ROOT
from tests.schedule import MODULE_SECONDS, SHARED, SPREAD

INTEGRATION = PROJECT_ROOT / "tests" / "integration"


def test_every_integration_module_has_its_measured_seconds() -> None:
    # A module missing there starts among the quick ones (README, Testing): a slow one would
    # then be the last to finish.
    modules = {
        str(path.relative_to(PROJECT_ROOT)) for path in sorted(INTEGRATION.rglob("test_*.py"))
    }
    assert modules - set(MODULE_SECONDS) == set()


def test_every_module_measured_still_exists() -> None:
    assert [m for m in MODULE_SECONDS if not (PROJECT_ROOT / m).is_file()] == []


def test_every_module_of_a_shared_group_or_spread_exists() -> None:
    assert [m for m in [*SHARED, *SPREAD] if not (PROJECT_ROOT / m).is_file()] == []
