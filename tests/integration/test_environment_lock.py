"""Two bootstraps of one environment never apply at once: the global concurrency limit holds."""

from __future__ import annotations

import threading

import pytest
from prefect.concurrency.sync import concurrency

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.safety.locks import environment_lock

pytestmark = pytest.mark.slow


def test_second_holder_waits_while_the_first_applies(local_stack: BootstrapSettings) -> None:
    # Only the environment's name matters to the lock.
    settings = local_stack.model_copy(update={"environment": "locktest"})
    holding, release = threading.Event(), threading.Event()

    def first_bootstrap() -> None:
        with environment_lock(settings):
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=first_bootstrap)
    thread.start()
    try:
        assert holding.wait(30)
        with (
            pytest.raises(TimeoutError),
            concurrency("bootstrap-locktest", occupy=1, timeout_seconds=3, strict=True),
        ):
            pass
        # Another environment is not blocked.
        with environment_lock(local_stack.model_copy(update={"environment": "otherenv"})):
            pass
    finally:
        release.set()
        thread.join(30)
    with concurrency("bootstrap-locktest", occupy=1, timeout_seconds=10, strict=True):
        pass  # released when the first bootstrap ends
