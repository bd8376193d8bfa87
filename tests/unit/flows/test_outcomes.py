"""The filter that keeps expected outcomes from logging as crashes (flows/outcomes.py)."""

from __future__ import annotations

import logging
import sys

import httpx
import pytest
from prefect.client.schemas.objects import State
from prefect.exceptions import CancelledRun, PrefectHTTPStatusError

from bootstrap_flows.drift.findings import DriftDetected, DriftReport
from bootstrap_flows.flows import outcomes
from bootstrap_flows.prefect_side.rate_limit import RateLimited


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
    for logger in (outcomes.ENGINE_LOGGER, outcomes.TASK_LOGGER):
        installed = logging.getLogger(logger).filters
        assert sum(isinstance(f, outcomes.ExpectedOutcomes) for f in installed) == 1


def rate_limit_error() -> PrefectHTTPStatusError:
    """What Prefect's client raises for a 429 once its own retries have run out."""
    request = httpx.Request("GET", "http://prefect.example/api/flow_runs/1")
    response = httpx.Response(429, request=request)
    return PrefectHTTPStatusError("429 Too Many Requests", request=request, response=response)


def raised_from(error: BaseException, cause: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as raised:
        return raised


def test_a_task_failed_by_a_rate_limit_keeps_its_line_without_the_traceback() -> None:
    # A stage's own error wrapping the 429 (as preflight's do).
    error = raised_from(RuntimeError("reading the pool"), rate_limit_error())
    record = engine_record(error, message="Task run failed with exception: %r")
    assert outcomes.ExpectedOutcomes().filter(record)
    assert record.exc_info is None and record.exc_text is None


def test_the_engine_traceback_of_a_rate_limited_run_is_dropped() -> None:
    assert not outcomes.ExpectedOutcomes().filter(engine_record(RateLimited("rate limited: x")))


def test_a_rate_limit_ends_the_run_failed_with_its_one_line() -> None:
    @outcomes.failing_on_rate_limits
    def stage() -> str:
        raise raised_from(RuntimeError("a stage"), rate_limit_error())

    state = stage()
    assert isinstance(state, State) and state.is_failed() and state.name == "RateLimited"
    assert state.message and "\n" not in state.message
    assert state.message.startswith(
        "rate limited: the worker's Prefect API (http://prefect.example, "
        "BOOTSTRAP_PREFECT_API_URL) answered GET /api/flow_runs/1 with HTTP 429"
    )
    assert "per account" in state.message


def test_other_errors_still_raise_through_the_rate_limit_decorator() -> None:
    @outcomes.failing_on_rate_limits
    def stage() -> str:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        stage()
