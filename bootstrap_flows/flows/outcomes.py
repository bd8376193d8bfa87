"""Expected outcomes are states, not crashes.

A flow that ends in a state it returns (drift-check's Failed "Drifted" and "CheckFailed",
bootstrap's and teardown's Cancelled "Rejected" and "TimedOut") gets that state; Prefect's
engine then raises the state's exception to the process that ran the flow, and its entry point
logs "Engine execution exited with unexpected exception" at ERROR with the traceback
(prefect/flow_engine.py, `run_flow`, 3.9.1). Someone reading the run's logs sees a crash where
the run did what it was meant to. The run has already logged its outcome in one line.

This filter drops exactly that record when the exception is what an expected outcome carries;
every other error, ours or Prefect's, keeps its traceback. It is installed when a flow module is
imported, which the engine does before it runs the flow.

A Prefect API that rate-limits us past its client's retries is an outcome too: nothing of ours
is broken and a traceback would hide the one line that says so (prefect_side/rate_limit.py).
`failing_on_rate_limits` ends such a run Failed "RateLimited" with that line, and the filter
keeps the task engine's "Task run failed" line for it but drops its traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect.client.schemas.objects import State
from prefect.exceptions import CancelledRun
from prefect.states import Failed

from bootstrap_flows.drift.findings import NotClean
from bootstrap_flows.prefect_side.rate_limit import RateLimited, rate_limited

ENGINE_LOGGER = "prefect.flow_runs"
# Where the task engine logs "Task run failed with exception" with its traceback.
TASK_LOGGER = "prefect.task_runs"
ENGINE_MESSAGE = "Engine execution exited with unexpected exception"
# NotClean: the data of Drifted and CheckFailed. CancelledRun: what Prefect raises for a run
# that ended Cancelled (Rejected, TimedOut), a state nobody reaches by crashing.
# RateLimited: the data of a run `failing_on_rate_limits` ended.
EXPECTED: tuple[type[BaseException], ...] = (NotClean, CancelledRun, RateLimited)


class ExpectedOutcomes(logging.Filter):
    """Drop the engine's traceback for a run that ended in an expected state, and the
    traceback (not the line) of any record whose error is a rate limit."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        if record.msg == ENGINE_MESSAGE and isinstance(record.exc_info[1], EXPECTED):
            return False
        if rate_limited(record.exc_info[1]) is not None:
            record.exc_info, record.exc_text = None, None
        return True


def quiet_expected_outcomes() -> None:
    """Install the filter on the flow-run and task-run loggers once per process."""
    for name in (ENGINE_LOGGER, TASK_LOGGER):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ExpectedOutcomes) for f in logger.filters):
            logger.addFilter(ExpectedOutcomes())


P = ParamSpec("P")
R = TypeVar("R")


def failing_on_rate_limits(fn: Callable[P, R]) -> Callable[P, R | State[Any]]:
    """End the flow Failed "RateLimited" with the one line, when a rate limit stopped it.

    Goes between `@flow` and the function: the run then returns its state instead of raising,
    so Prefect logs no "Encountered exception" traceback. Every other error is raised as before.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R | State[Any]:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            limited = rate_limited(exc)
            if limited is None:
                raise
            return Failed(name="RateLimited", message=str(limited), data=limited)

    return run
