"""Stopping a process group: SIGTERM, then SIGKILL once the grace is over
(bootstrap_local/processes.stop_group; the test servers stop this way)."""

from __future__ import annotations

import subprocess
import sys

from bootstrap_local.processes import alive, stop_group

# A child that ignores SIGTERM, as a server busy in its exit handlers on a loaded machine does.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print(1, flush=True); time.sleep(60)"
)


def started(code: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None and process.stdout.readline()  # its handler is in place
    return process


def test_a_group_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    process = started(STUBBORN)
    stop_group(process.pid, grace=1.0)
    assert not alive(process.pid)


def test_a_group_that_exits_on_sigterm_is_stopped() -> None:
    process = started("import time; print(1, flush=True); time.sleep(60)")
    stop_group(process.pid)
    assert not alive(process.pid)
