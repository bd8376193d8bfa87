"""The embedded default: everything the flow talks to, on this machine.

`up` starts a moto server (as AWS), a Prefect server and a process worker for the `bootstrap`
pool; `down` stops them by the PIDs it recorded. Ports and the state directory are settings.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bootstrap_flows.aws import EMULATOR_CREDENTIALS
from bootstrap_flows.settings import ENV_PREFIX, PROJECT_ROOT, BootstrapSettings

BOOTSTRAP_POOL = "bootstrap"
SERVICES = ("moto", "prefect", "worker")
BIN = Path(sys.executable).parent


class LocalStackError(RuntimeError):
    """A local service could not start; the message says which and where its log is."""


def _run_dir(settings: BootstrapSettings) -> Path:
    path = settings.local_state_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pid_file(settings: BootstrapSettings, service: str) -> Path:
    return _run_dir(settings) / f"{service}.pid"


def log_file(settings: BootstrapSettings, service: str) -> Path:
    return _run_dir(settings) / f"{service}.log"


def _pid(settings: BootstrapSettings, service: str) -> int | None:
    """The recorded PID of `service` if that process is still alive."""
    try:
        pid = int(_pid_file(settings, service).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def auth_string(settings: BootstrapSettings) -> str:
    """The worker's credential on the embedded default: random, made once, readable by us only."""
    path = settings.local_state_dir / "prefect-auth-string"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(f"worker:{secrets.token_urlsafe(24)}")
    return path.read_text().strip()


def child_env(settings: BootstrapSettings) -> dict[str, str]:
    """Environment for the local services and the flow runs they start."""
    return {
        **os.environ,
        **EMULATOR_CREDENTIALS,
        "AWS_DEFAULT_REGION": settings.aws_region,
        "PREFECT_API_URL": settings.local_prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        f"{ENV_PREFIX}LOCAL_STATE_DIR": str(settings.local_state_dir),
        f"{ENV_PREFIX}LOCAL_MOTO_PORT": str(settings.local_moto_port),
        f"{ENV_PREFIX}LOCAL_PREFECT_PORT": str(settings.local_prefect_port),
    }


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def _start(
    settings: BootstrapSettings,
    service: str,
    command: list[str],
    ready: Callable[[], bool],
    timeout: float,
    env: dict[str, str] | None = None,
) -> None:
    if _pid(settings, service) and ready():
        return
    if ready():
        raise LocalStackError(
            f"{service}: its port is already taken by a process this stack did not start; stop "
            "it or choose other ports (BOOTSTRAP_LOCAL_MOTO_PORT, BOOTSTRAP_LOCAL_PREFECT_PORT)"
        )
    log = log_file(settings, service)

    def restore_signals() -> None:
        # A process started from a non-interactive shell inherits SIGINT ignored; restore it
        # so the service (and the flow runs it starts) stop cleanly.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env or child_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=restore_signals,
        )
    _pid_file(settings, service).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalStackError(f"{service} exited with code {process.returncode}; see {log}")
        if ready():
            return
        time.sleep(0.5)
    raise LocalStackError(f"{service} did not become ready in {timeout:.0f} s; see {log}")


def _worker_online(settings: BootstrapSettings) -> bool:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return bool(client.read_workers_for_work_pool(BOOTSTRAP_POOL))


def _ensure_bootstrap_pool() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=BOOTSTRAP_POOL, type="process"))


def up(settings: BootstrapSettings) -> str:
    """Start (or confirm) every local service; return the Prefect UI URL."""
    settings.local_state_dir.mkdir(parents=True, exist_ok=True)
    env = child_env(settings)
    _start(
        settings,
        "moto",
        [
            sys.executable,
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            str(settings.local_moto_port),
        ],
        ready=lambda: _healthy(f"{settings.local_aws_endpoint}/moto-api/data.json"),
        timeout=60,
        # Managed policies (AmazonECSTaskExecutionRolePolicy) can only be loaded at start.
        env={**env, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )
    prefect_home = settings.local_state_dir / "prefect"
    _start(
        settings,
        "prefect",
        [
            str(BIN / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.local_prefect_port),
        ],
        ready=lambda: _healthy(f"{settings.local_prefect_api_url}/health"),
        timeout=120,
        env={
            **env,
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_API_DATABASE_CONNECTION_URL": (
                f"sqlite+aiosqlite:///{prefect_home / 'prefect.db'}"
            ),
        },
    )
    os.environ["PREFECT_API_URL"] = settings.local_prefect_api_url
    _ensure_bootstrap_pool()
    _start(
        settings,
        "worker",
        [str(BIN / "prefect"), "worker", "start", "--pool", BOOTSTRAP_POOL, "--type", "process"],
        ready=lambda: _worker_online(settings),
        timeout=90,
    )
    return settings.local_prefect_api_url.removesuffix("/api")


def down(settings: BootstrapSettings) -> list[str]:
    """Stop every service this stack started (worker first); return the ones stopped."""
    stopped = []
    for service in reversed(SERVICES):
        pid = _pid(settings, service)
        if pid is None:
            _pid_file(settings, service).unlink(missing_ok=True)
            continue
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            if not _alive(pid):
                break
        _pid_file(settings, service).unlink(missing_ok=True)
        stopped.append(service)
    return stopped


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def status(settings: BootstrapSettings) -> dict[str, int | None]:
    return {service: _pid(settings, service) for service in SERVICES}
