"""The embedded default's local stack as a user drives it: up, up again, down, up, run.

A second stack on its own ports and state directory, driven through the `bootstrap-flows` CLI
in subprocesses, so the session's stack (and this process's Prefect settings) stay untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bootstrap_flows.config.settings import PROJECT_ROOT
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
SERVICES = ("moto", "registry", "postgres", "prefect", "ecs-runtime", "worker")


class Stack:
    def __init__(self, root: Path) -> None:
        self.moto, self.prefect, self.registry = free_port(), free_port(), free_port()
        self.state = root / "state"
        self.env = {
            **os.environ,
            "BOOTSTRAP_LOCAL_STATE_DIR": str(self.state),
            "BOOTSTRAP_LOCAL_MOTO_PORT": str(self.moto),
            "BOOTSTRAP_LOCAL_PREFECT_PORT": str(self.prefect),
            "BOOTSTRAP_LOCAL_REGISTRY_PORT": str(self.registry),
            "BOOTSTRAP_LOCAL_POSTGRES_PORT": str(free_port()),
            "BOOTSTRAP_LOCAL_SERVER_PORT": str(free_port()),
            "BOOTSTRAP_LOCAL_DNS_PORT": str(free_port()),
            "PREFECT_API_URL": f"http://127.0.0.1:{self.prefect}/api",
            "PREFECT_HOME": str(root / "client"),
        }

    def run(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(BIN / "bootstrap-flows"), *args)

    def pids(self) -> dict[str, str]:
        run = self.state / "run"
        return {s: (run / f"{s}.pid").read_text() for s in SERVICES if (run / f"{s}.pid").exists()}

    def status(self) -> str:
        return self.cli("local", "status").stdout

    def drift_check(self, expected: tuple[bool, int], timeout: float = 60) -> tuple[bool, int]:
        """drift-check/local on this stack's Prefect: (paused, its runs waiting as Scheduled),
        once it is `expected` (the scheduler makes the waiting run) or at the timeout."""
        api, deadline = self.env["PREFECT_API_URL"], time.monotonic() + timeout
        while True:
            deployment = httpx.get(f"{api}/deployments/name/drift-check/local", timeout=10).json()
            waiting = httpx.post(
                f"{api}/flow_runs/filter",
                json={
                    "deployments": {"id": {"any_": [deployment["id"]]}},
                    "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                },
                timeout=10,
            ).json()
            seen = (bool(deployment["paused"]), len(waiting))
            if seen == expected or time.monotonic() > deadline:
                return seen
            time.sleep(1)

    def worker_name(self) -> str:
        return (self.state / "run" / "worker.name").read_text().strip()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    yield stack
    stack.cli("local", "down")


def test_failed_up_leaves_nothing_running(stack: Stack, tmp_path: Path) -> None:
    # A stranger answers HTTP on the registry's port: `up` starts moto, then must stop.
    squatter = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(stack.registry), "-b", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            if _answers(f"http://127.0.0.1:{stack.registry}/"):
                break
            time.sleep(0.1)
        failed = stack.cli("local", "up")
    finally:
        squatter.terminate()
        squatter.wait()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"port {stack.registry} is taken" in failed.stderr
    assert stack.pids() == {}
    assert "running" not in stack.status()
    assert not _answers(f"http://127.0.0.1:{stack.moto}/moto-api/")


def test_up_twice_then_down_then_up_serves_runs(stack: Stack) -> None:
    first = stack.cli("local", "up")
    assert first.returncode == 0, first.stderr
    pids, worker = stack.pids(), stack.worker_name()
    assert set(pids) == set(SERVICES)

    again = stack.cli("local", "up")
    assert again.returncode == 0, again.stderr
    assert (stack.pids(), stack.worker_name()) == (pids, worker)  # nothing restarted

    down = stack.cli("local", "down")
    assert down.returncode == 0 and "worker" in down.stdout, down.stdout + down.stderr
    # The server still lists the stopped worker; a new `up` must not take it for its own.
    restarted = stack.cli("local", "up")
    assert restarted.returncode == 0, restarted.stderr
    assert stack.worker_name() != worker

    # The new worker picks up a deployment's run: the user's next step after `up`.
    env = {"BOOTSTRAP_DRIFT_SCHEDULE": "0 0 1 1 *"}
    stack.env |= env
    deployed = stack.run(str(BIN / "prefect"), "--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    run = stack.run(str(BIN / "prefect"), "deployment", "run", "teardown/local", "--watch")
    assert run.returncode == 0 and "Completed" in run.stdout, run.stdout + run.stderr
    assert stack.drift_check((False, 1)) == (False, 1)  # its schedule's next run waits

    # `down` takes the emulated AWS along: local's drift check is paused (its waiting run gone),
    # so no check runs against an emptied emulator at the next `up` and fails.
    down = stack.cli("local", "down")
    assert "Paused drift-check/local" in down.stdout, down.stdout + down.stderr
    up = stack.cli("local", "up")
    assert "drift-check/local is paused" in up.stdout, up.stdout + up.stderr
    assert stack.drift_check((True, 0)) == (True, 0)
    # Registering the deployments again (the quick start does, then bootstraps) resumes it.
    deployed = stack.run(str(BIN / "prefect"), "--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert stack.drift_check((False, 1)) == (False, 1)
