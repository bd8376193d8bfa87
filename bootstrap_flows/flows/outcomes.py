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
"""

from __future__ import annotations

import logging

from prefect.exceptions import CancelledRun

from bootstrap_flows.drift.findings import NotClean

ENGINE_LOGGER = "prefect.flow_runs"
ENGINE_MESSAGE = "Engine execution exited with unexpected exception"
# NotClean: the data of Drifted and CheckFailed. CancelledRun: what Prefect raises for a run
# that ended Cancelled (Rejected, TimedOut), a state nobody reaches by crashing.
EXPECTED: tuple[type[BaseException], ...] = (NotClean, CancelledRun)


class ExpectedOutcomes(logging.Filter):
    """Drop the engine's traceback for a run that ended in an expected state."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != ENGINE_MESSAGE or not record.exc_info:
            return True
        return not isinstance(record.exc_info[1], EXPECTED)


def quiet_expected_outcomes() -> None:
    """Install the filter on the flow-run logger once per process."""
    logger = logging.getLogger(ENGINE_LOGGER)
    if not any(isinstance(f, ExpectedOutcomes) for f in logger.filters):
        logger.addFilter(ExpectedOutcomes())
