"""The embedded default: everything the flow talks to, on this machine.

`up` starts a moto server (as AWS), a registry standing in for ECR's, a Prefect server, the
local ECS runtime (Fargate's stand-in) and a process worker for the `bootstrap` pool; `down`
stops them by the PIDs it recorded. Ports and the state directory are settings.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from bootstrap_flows import docker_engine
from bootstrap_flows.errors import ServiceError
from bootstrap_flows.local import processes, registry
from bootstrap_flows.local.ecs_runtime import runtime as ecs_runtime
from bootstrap_flows.local.target import MOTO_READY_PATH, emulator_credentials
from bootstrap_flows.settings import ENV_PREFIX, PROJECT_ROOT, BootstrapSettings

BOOTSTRAP_POOL = "bootstrap"
# Started in this order, stopped in reverse.
# The ECS runtime stops while moto and Prefect still run, so it can report its tasks STOPPED.
SERVICES = ("moto", "registry", "prefect", "ecs-runtime", "worker")
# Seconds each service gets between SIGTERM and SIGKILL.
GRACE = {"ecs-runtime": 30.0}
BIN = Path(sys.executable).parent


class LocalStackError(ServiceError):
    """A local service could not start; the message says which and where its log is."""


def log_file(settings: BootstrapSettings, service: str) -> Path:
    return processes.log_file(settings.local_state_dir, service)


def child_env(settings: BootstrapSettings) -> dict[str, str]:
    """Environment for the local services and the flow runs they start."""
    return {
        **os.environ,
        **emulator_credentials(),
        "AWS_DEFAULT_REGION": settings.aws_region,
        "PREFECT_API_URL": settings.local_prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        f"{ENV_PREFIX}AWS_REGION": settings.aws_region,
        f"{ENV_PREFIX}LOCAL_STATE_DIR": str(settings.local_state_dir),
        f"{ENV_PREFIX}LOCAL_MOTO_PORT": str(settings.local_moto_port),
        f"{ENV_PREFIX}LOCAL_PREFECT_PORT": str(settings.local_prefect_port),
        f"{ENV_PREFIX}LOCAL_REGISTRY_PORT": str(settings.local_registry_port),
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
    owns_port: bool = True,
) -> None:
    if processes.running_pid(settings.local_state_dir, service) and ready():
        return
    if owns_port and ready():
        raise LocalStackError(
            f"{service}: its port is already taken by a process this stack did not start; stop "
            "it or choose other ports (BOOTSTRAP_LOCAL_MOTO_PORT, BOOTSTRAP_LOCAL_PREFECT_PORT)"
        )
    processes.start(
        settings.local_state_dir,
        service,
        command,
        ready,
        timeout,
        env=env or child_env(settings),
        cwd=PROJECT_ROOT,
        error=LocalStackError,
    )


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
        # Answers in milliseconds, unlike data.json once IAM's managed policies are loaded.
        ready=lambda: _healthy(f"{settings.local_aws_endpoint}{MOTO_READY_PATH}"),
        timeout=60,
        # Managed policies (AmazonECSTaskExecutionRolePolicy) can only be loaded at start.
        env={**env, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )
    # The registry standing in for ECR: its password is the emulated ECR token's.
    docker_engine.ensure_docker()
    registry.registry_up(settings)
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
    # Fargate's stand-in: runs the emulated ECS's services and tasks as containers.
    _start(
        settings,
        "ecs-runtime",
        [sys.executable, "-m", "bootstrap_flows.local.ecs_runtime", "--shutdown-grace", "20"],
        ready=lambda: ecs_runtime.healthy(settings),
        timeout=60,
        owns_port=False,
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
    """Stop every service this stack started (last started first); return the ones stopped."""
    return [
        service
        for service in reversed(SERVICES)
        if processes.stop(settings.local_state_dir, service, grace=GRACE.get(service, 15.0))
    ]


def status(settings: BootstrapSettings) -> dict[str, int | None]:
    return {
        service: processes.running_pid(settings.local_state_dir, service) for service in SERVICES
    }
