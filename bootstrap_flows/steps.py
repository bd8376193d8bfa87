"""How long each step inside a stage took, at DEBUG, so a stall names itself.

A stage (a task) logs what Terraform says and when it ends; what happens between (Terraform's
exit and lock release, the lock watcher, adoption, an artifact's API call) logs nothing. One
no-change re-run once ended its plan task 57 s after Terraform's last line with nothing said
(issue 27). `step` times such a step and logs it at DEBUG when it ends, raised or not: off by
default (Prefect sends DEBUG only with PREFECT_LOGGING_LEVEL=DEBUG), so it costs no log lines
against a rate limit until someone is looking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Logger = logging.Logger | logging.LoggerAdapter[Any]


@contextmanager
def step(logger: Logger, what: str) -> Iterator[None]:
    """Log `step <what>: <seconds> s` at DEBUG once the block ends."""
    started = time.monotonic()
    try:
        yield
    finally:
        logger.debug("step %s: %.2f s", what, time.monotonic() - started)
