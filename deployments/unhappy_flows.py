"""Flows that go wrong on purpose, baked into the worker image next to the e2e test flow.

The unhappy-path tests deploy them on a bootstrapped ECS pool to check that each failure ends
in the right state with a reason a person can act on. They live in the image so every case
runs what was pushed, without a rebuild per case.
"""

from __future__ import annotations

import os
import sys
import time

from prefect import flow, get_run_logger

RAISED_MESSAGE = "unhappy-raises: the flow raised on purpose"


class DeliberateFailure(RuntimeError):
    """Raised by `unhappy_raises`: its name must show up in the run's traceback."""


@flow(name="unhappy-raises")
def unhappy_raises() -> None:
    get_run_logger().info("unhappy-raises: about to raise")
    raise DeliberateFailure(RAISED_MESSAGE)


@flow(name="unhappy-exits")
def unhappy_exits(exit_code: int = 7) -> None:
    # os._exit skips the engine's own clean-up: the run is left Running, as after a real crash
    # of the process, and only the ECS observer can tell what happened.
    print(f"unhappy-exits: exiting with code {exit_code}", flush=True)
    sys.stderr.flush()
    os._exit(exit_code)


@flow(name="unhappy-sleeps")
def unhappy_sleeps(seconds: int = 60) -> int:
    """Runs long enough to be cancelled or to outlive its worker; logs each second."""
    logger = get_run_logger()
    for tick in range(seconds):
        logger.info("unhappy-sleeps: tick %d of %d", tick + 1, seconds)
        time.sleep(1)
    logger.info("unhappy-sleeps: done after %d s", seconds)
    return seconds
