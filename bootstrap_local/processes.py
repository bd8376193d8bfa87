"""Background services of the embedded default, started and stopped by PID.

Every service has `<state dir>/run/<name>.pid` and `<name>.log`; nothing is found by name or
port, so a stop never touches a process this project did not start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bootstrap_flows.errors import ServiceError


def run_dir(state_dir: Path) -> Path:
    path = state_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_file(state_dir: Path, name: str) -> Path:
    return run_dir(state_dir) / f"{name}.pid"


def log_file(state_dir: Path, name: str) -> Path:
    return run_dir(state_dir) / f"{name}.log"


def alive(pid: int) -> bool:
    try:
        # Reap our own exited children, or they would look alive as zombies.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running_pid(state_dir: Path, name: str) -> int | None:
    """The recorded PID of `name` if that process is still alive."""
    try:
        pid = int(pid_file(state_dir, name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def _restore_signals() -> None:
    # A process started from a non-interactive shell inherits SIGINT ignored; restore it so
    # the service (and whatever it starts) stops cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(
    state_dir: Path,
    name: str,
    command: list[str],
    ready: Callable[[], bool],
    timeout: float,
    env: dict[str, str],
    cwd: Path,
    error: type[ServiceError] = ServiceError,
) -> int:
    """Start `command` in its own session, record its PID, wait until `ready()`; return the PID."""
    log = log_file(state_dir, name)
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_restore_signals,
        )
    pid_file(state_dir, name).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise error(f"{name} exited with code {process.returncode}; see {log}")
        if ready():
            return process.pid
        time.sleep(0.3)
    stop(state_dir, name)
    raise error(f"{name} did not become ready in {timeout:.0f} s; see {log}")


def stop(state_dir: Path, name: str, grace: float = 15.0) -> bool:
    """Stop the process group of `name` (SIGTERM, then SIGKILL); True if it was running."""
    pid = running_pid(state_dir, name)
    pid_file(state_dir, name).unlink(missing_ok=True)
    if pid is None:
        return False
    stop_group(pid, grace)
    return True


def stop_group(pid: int, grace: float = 15.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL it if it has not exited in `grace` s:
    a loaded machine can take longer than any fixed grace to run a server's exit handlers."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.2)
        if not alive(pid):
            break
