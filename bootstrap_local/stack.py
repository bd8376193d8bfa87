"""The embedded default: everything the flow talks to, on this machine.

`up` starts a moto server (as AWS, with a DNS responder for its Route 53 zones), a registry
standing in for ECR's, a PostgreSQL standing in for RDS (when this machine has its binaries), a
Prefect server, the local ECS runtime (Fargate's stand-in) and a process worker for the
`bootstrap` pool; `down` stops them by the PIDs it recorded. Ports and the state directory are
settings.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bootstrap_flows import docker_engine
from bootstrap_flows.config.settings import ENV_PREFIX, PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.errors import ServiceError
from bootstrap_flows.prefect_side import crash_detection
from bootstrap_local import database, prefect_database, processes, provider_mirror, registry
from bootstrap_local.ecs_runtime import runtime as ecs_runtime
from bootstrap_local.settings import LocalSettings
from bootstrap_local.target import MOTO_READY_PATH, emulator_credentials

BOOTSTRAP_POOL = "bootstrap"
# Started in this order, stopped in reverse.
# The ECS runtime stops while moto and Prefect still run, so it can report its tasks STOPPED.
SERVICES = ("moto", "registry", "postgres", "prefect", "ecs-runtime", "worker")
# Seconds each service gets between SIGTERM and SIGKILL.
GRACE = {"ecs-runtime": 30.0}
BIN = Path(sys.executable).parent
# The key id the local ECS runtime signs with (see _ecs_runtime).
RUNTIME_KEY_ID = "ecs-runtime"
# moto's server, patched where a re-apply needs it to behave like AWS (see the module).
MOTO_SERVER = "bootstrap_local.moto_server"


class LocalStackError(ServiceError):
    """A local service could not start; the message says which and where its log is."""


def log_file(local: LocalSettings, service: str) -> Path:
    return processes.log_file(local.state_dir, service)


def child_env(settings: BootstrapSettings, local: LocalSettings) -> dict[str, str]:
    """Environment for the local services and the flow runs they start."""
    return {
        **os.environ,
        **emulator_credentials(),
        "AWS_DEFAULT_REGION": settings.aws_region,
        "PREFECT_API_URL": local.prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        f"{ENV_PREFIX}AWS_REGION": settings.aws_region,
        f"{ENV_PREFIX}WORK_DIR": str(settings.work_dir),
        **local.environment(),
        **provider_mirror.environment(settings.terraform_provider_mirror),
    }


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class Service:
    """One local service: how to start it and how to know that *this* start of it is ready."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    timeout: float
    env: dict[str, str]
    # A service that answers on a port we own: if something answers before we start it, a
    # process this stack did not start holds the port.
    owns_port: bool = True


def _start(local: LocalSettings, service: Service) -> bool:
    """Start `service` unless it already runs from an earlier `up`; True if started now."""
    if processes.running_pid(local.state_dir, service.name) and service.ready():
        return False
    if service.owns_port and service.ready():
        raise LocalStackError(
            f"{service.name}: its port is already taken by a process this stack did not start; "
            "stop it or choose other ports (BOOTSTRAP_LOCAL_MOTO_PORT, "
            "BOOTSTRAP_LOCAL_PREFECT_PORT, BOOTSTRAP_LOCAL_REGISTRY_PORT, "
            "BOOTSTRAP_LOCAL_POSTGRES_PORT, BOOTSTRAP_LOCAL_DNS_PORT)"
        )
    processes.start(
        local.state_dir,
        service.name,
        service.command,
        service.ready,
        service.timeout,
        env=service.env,
        cwd=PROJECT_ROOT,
        error=LocalStackError,
    )
    return True


def worker_name(local: LocalSettings) -> str:
    """The name of the current `bootstrap` pool worker (a new one for every start)."""
    path = processes.run_dir(local.state_dir) / "worker.name"
    if processes.running_pid(local.state_dir, "worker") is None or not path.exists():
        path.write_text(f"bootstrap-local-{secrets.token_hex(4)}")
    return path.read_text().strip()


def _worker_polling(local: LocalSettings, name: str) -> bool:
    """Whether the worker started under `name` has sent a heartbeat: it is polling now.

    The server keeps listing workers of earlier runs; only this start's name counts.
    """
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(BOOTSTRAP_POOL)
    return any(w.name == name and w.last_heartbeat_time is not None for w in workers)


def _ensure_bootstrap_pool() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=BOOTSTRAP_POOL, type="process"))


def role_calls_file(local: LocalSettings) -> Path:
    """Every AWS call made with a role's credentials (task, agent), as moto recorded it."""
    return processes.run_dir(local.state_dir) / "aws-role-calls.jsonl"


def operator_calls_file(local: LocalSettings) -> Path:
    """Every AWS call made with the operator's key (Terraform, flows, CLI), names only."""
    return processes.run_dir(local.state_dir) / "aws-operator-calls.jsonl"


def _moto(local: LocalSettings, env: dict[str, str]) -> Service:
    port = str(local.moto_port)
    # Recorded from the start, not per test: the calls to check are the worker service's,
    # the pool's and every flow run's of the whole session, and a recorder started later
    # misses a service task that began before it (see tests/support/iam_grants.py).
    record = ["--record-role-calls", str(role_calls_file(local))]
    record += ["--record-operator-calls", str(operator_calls_file(local))]
    record += ["--operator-key", emulator_credentials()["AWS_ACCESS_KEY_ID"]]
    # Public DNS for its Route 53 zones, as the delegation check asks it (the emulator target).
    record += ["--dns-port", str(local.dns_port)]
    return Service(
        "moto",
        [sys.executable, "-m", MOTO_SERVER, *record, "-H", "127.0.0.1", "-p", port],
        ready=lambda: _healthy(f"{local.aws_endpoint}{MOTO_READY_PATH}"),
        timeout=60,
        # Managed policies (AmazonECSTaskExecutionRolePolicy) can only be loaded at start.
        env={**env, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )


def _prefect_db(local: LocalSettings) -> Path:
    return local.state_dir / "prefect" / "prefect.db"


def _prefect(local: LocalSettings, env: dict[str, str]) -> Service:
    home = local.state_dir / "prefect"
    port = str(local.prefect_port)
    return Service(
        "prefect",
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port],
        ready=lambda: _healthy(f"{local.prefect_api_url}/health"),
        timeout=120,
        env={
            **env,
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_database.connection_url(
                _prefect_db(local)
            ),
        },
    )


def _start_prefect(local: LocalSettings, env: dict[str, str]) -> bool:
    service = _prefect(local, env)
    # A first start copies a migrated database instead of migrating (see the module).
    prefect_database.prepare(_prefect_db(local), env)
    return _start(local, service)


def _postgres(local: LocalSettings, env: dict[str, str], bins: Path) -> Service:
    # RDS's stand-in: the ECS runtime makes each emulated instance's user and database in it.
    return Service(
        database.SERVICE,
        database.command(local, bins),
        ready=lambda: database.ready(local, bins),
        timeout=60,
        env=env,
    )


def start_postgres(local: LocalSettings, env: dict[str, str]) -> bool:
    """Start (or confirm) the PostgreSQL standing in for RDS; True if started now.

    Without PostgreSQL's binaries it is skipped with a note: only the server stack needs it,
    and the quick start must not fail for it.
    """
    bins = database.bin_dir()
    if bins is None:
        print(f"note: {database.MISSING_NOTE}", file=sys.stderr)
        return False
    try:
        database.prepare(local, bins)
    except OSError as exc:
        raise LocalStackError(f"postgres: cannot prepare {database.home(local)}: {exc}") from exc
    return _start(local, _postgres(local, env, bins))


def _ecs_runtime(local: LocalSettings, env: dict[str, str]) -> Service:
    # Fargate's stand-in: runs the emulated ECS's services and tasks as containers.
    return Service(
        "ecs-runtime",
        [sys.executable, "-m", "bootstrap_local.ecs_runtime", "--shutdown-grace", "20"],
        ready=lambda: ecs_runtime.healthy(local),
        timeout=60,
        # A key of its own (moto takes any): its polling is Fargate's, not the operator's, and
        # must not be recorded as the operator's calls.
        env={**env, "AWS_ACCESS_KEY_ID": RUNTIME_KEY_ID},
        owns_port=False,
    )


def worker_env(settings: BootstrapSettings, local: LocalSettings) -> dict[str, str]:
    """Environment of a `bootstrap` pool worker: its flow runs heartbeat, so a dead one is seen."""
    return {**child_env(settings, local), **crash_detection.worker_environment()}


def _worker(settings: BootstrapSettings, local: LocalSettings) -> Service:
    name = worker_name(local)
    command = [str(BIN / "prefect"), "worker", "start", "--pool", BOOTSTRAP_POOL]
    return Service(
        "worker",
        [*command, "--type", "process", "--name", name],
        ready=lambda: _worker_polling(local, name),
        timeout=90,
        env=worker_env(settings, local),
        owns_port=False,
    )


def _registry(settings: BootstrapSettings, local: LocalSettings) -> bool:
    # The registry standing in for ECR: its password is the emulated ECR token's.
    docker_engine.ensure_docker()
    was_running = processes.running_pid(local.state_dir, registry.REGISTRY) is not None
    registry.registry_up(settings, local)
    return not was_running


def _start_worker(settings: BootstrapSettings, local: LocalSettings) -> bool:
    os.environ["PREFECT_API_URL"] = local.prefect_api_url
    _ensure_bootstrap_pool()
    # This stack is the orchestrator: it marks a run whose process died Crashed (see the module).
    crash_detection.ensure_crash_detection()
    return _start(local, _worker(settings, local))


def _steps(
    settings: BootstrapSettings, local: LocalSettings
) -> list[tuple[str, Callable[[], bool]]]:
    """Each service in start order, with a call that starts it (True if started now)."""
    env = child_env(settings, local)
    return [
        ("moto", lambda: _start(local, _moto(local, env))),
        ("registry", lambda: _registry(settings, local)),
        ("postgres", lambda: start_postgres(local, env)),
        ("prefect", lambda: _start_prefect(local, env)),
        ("ecs-runtime", lambda: _start(local, _ecs_runtime(local, env))),
        ("worker", lambda: _start_worker(settings, local)),
    ]


def up(settings: BootstrapSettings, local: LocalSettings) -> str:
    """Start (or confirm) every local service; return the Prefect UI URL.

    A start that fails half-way stops what this call started, so nothing is left running.
    """
    local.state_dir.mkdir(parents=True, exist_ok=True)
    started: list[str] = []
    try:
        for name, start in _steps(settings, local):
            if start():
                started.append(name)
    except BaseException:
        for name in reversed(started):
            processes.stop(local.state_dir, name, grace=GRACE.get(name, 15.0))
        raise
    return local.prefect_api_url.removesuffix("/api")


def down(local: LocalSettings) -> list[str]:
    """Stop every service this stack started (last started first); return the ones stopped."""
    return [
        service
        for service in reversed(SERVICES)
        if processes.stop(local.state_dir, service, grace=GRACE.get(service, 15.0))
    ]


def status(local: LocalSettings) -> dict[str, int | None]:
    return {service: processes.running_pid(local.state_dir, service) for service in SERVICES}
