"""The filter that keeps expected outcomes from logging as crashes (flows/outcomes.py)."""

from __future__ import annotations

import logging
import sys

import pytest
from prefect.exceptions import CancelledRun

from bootstrap_flows.drift.findings import DriftDetected, DriftReport
from bootstrap_flows.flows import outcomes


def engine_record(
    error: BaseException, message: str = outcomes.ENGINE_MESSAGE
) -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        outcomes.ENGINE_LOGGER, logging.ERROR, __file__, 1, message, (), exc_info
    )


@pytest.mark.parametrize(
    "error",
    [
        CancelledRun("the platform plan was rejected"),
        DriftDetected("drifted", DriftReport(environment="x", status="drifted")),
    ],
)
def test_the_engine_traceback_of_an_expected_outcome_is_dropped(error: BaseException) -> None:
    assert not outcomes.ExpectedOutcomes().filter(engine_record(error))


def test_an_unexpected_error_keeps_its_traceback() -> None:
    assert outcomes.ExpectedOutcomes().filter(engine_record(RuntimeError("boom")))


def test_other_records_with_an_expected_error_are_kept() -> None:
    record = engine_record(CancelledRun("x"), message="Task run failed with exception")
    assert outcomes.ExpectedOutcomes().filter(record)


def test_importing_a_flow_installs_the_filter_once() -> None:
    import bootstrap_flows.flows.drift_check  # noqa: F401

    outcomes.quiet_expected_outcomes()
    installed = logging.getLogger(outcomes.ENGINE_LOGGER).filters
    assert sum(isinstance(f, outcomes.ExpectedOutcomes) for f in installed) == 1
