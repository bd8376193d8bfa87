"""Waiting for the ECS worker to come online: a heartbeat on the pool, or a message to act on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bootstrap_flows.config import names
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side import target_prefect
from bootstrap_flows.terraform.platform_stack import PlatformOutputs

# Prefect workers heartbeat every 30 s by default; three intervals is "recently".
RECENT_HEARTBEAT = timedelta(seconds=90)


class WorkerNotOnline(BootstrapError):
    """No worker of the pool sent a heartbeat in time; the message says what to check."""


def wait_for_worker(
    settings: BootstrapSettings,
    platform: PlatformOutputs,
    since: datetime,
    poll_seconds: float = 3.0,
) -> str:
    """Block until a worker of the pool heartbeats after `since`; return its name."""
    deadline = time.monotonic() + settings.worker_heartbeat_timeout
    # Heartbeats are stamped by the server; a small allowance absorbs clock differences.
    cutoff = since.astimezone(UTC) - timedelta(seconds=5)
    while True:
        with target_prefect.client(settings) as client:
            workers = client.read_workers_for_work_pool(settings.work_pool_name)
        for worker in workers:
            if worker.last_heartbeat_time and worker.last_heartbeat_time >= cutoff:
                return str(worker.name)
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_seconds)
    service = names.derived("worker service").name(settings.name_prefix, settings.environment)
    raise WorkerNotOnline(
        f"no worker of pool {settings.work_pool_name!r} sent a heartbeat within "
        f"{settings.worker_heartbeat_timeout} s. Check: the ECS service events "
        f"(`aws ecs describe-services --cluster {platform.cluster_name} --services "
        f"{service}`); the worker's logs in CloudWatch log group "
        f"{platform.log_group_name} (stream prefix `worker`); that the private subnets reach "
        f"{worker_api_url(resolve(settings))} (NAT gateway, security-group egress); and that "
        f"secret "
        f"{platform.prefect_api_secret_arn} holds a valid credential. Raise "
        "BOOTSTRAP_WORKER_HEARTBEAT_TIMEOUT if the worker is just slow to start."
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
