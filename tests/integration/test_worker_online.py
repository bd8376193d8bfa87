"""Waiting for the ECS worker: a real `prefect worker start --type ecs` process, as the service
starts it, comes online; no worker gives a message that says what to check."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator

import pytest

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.prefect_side.work_pool import ensure_work_pool
from bootstrap_flows.prefect_side.worker_online import WorkerNotOnline, utcnow, wait_for_worker
from bootstrap_local import stack as local_stack
from bootstrap_local.settings import load_local_settings
from tests.support.samples import IMAGE, OUTPUTS

pytestmark = pytest.mark.slow


# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()


@pytest.fixture()
def pool(local_stack: BootstrapSettings, request: pytest.FixtureRequest) -> BootstrapSettings:
    settings = load_settings(
        work_pool_name=f"wait-{request.node.name[5:25].replace('_', '-').strip('-')}",
        worker_heartbeat_timeout=30,
    )
    ensure_work_pool(settings, OUTPUTS, IMAGE)
    return settings


@pytest.fixture()
def ecs_worker(pool: BootstrapSettings) -> Iterator[subprocess.Popen[bytes]]:
    """The worker process exactly as the ECS service's container command starts it."""
    env = {**local_stack.child_env(pool, LOCAL), **aws.aws_environment(pool)}
    process = subprocess.Popen(
        [
            str(local_stack.BIN / "prefect"),
            "worker",
            "start",
            "--pool",
            pool.work_pool_name,
            "--type",
            "ecs",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_worker_heartbeat_is_awaited(pool: BootstrapSettings, ecs_worker: object) -> None:
    since = utcnow()
    name = wait_for_worker(pool, OUTPUTS, since, poll_seconds=1)
    assert name.startswith("ECSWorker")


def test_no_worker_says_what_to_check(pool: BootstrapSettings) -> None:
    settings = pool.model_copy(update={"worker_heartbeat_timeout": 10})
    with pytest.raises(WorkerNotOnline) as caught:
        wait_for_worker(settings, OUTPUTS, utcnow(), poll_seconds=1)
    message = str(caught.value)
    assert f"no worker of pool {settings.work_pool_name!r}" in message
    assert "within 10 s" in message
    assert OUTPUTS.log_group_name in message and OUTPUTS.prefect_api_secret_arn in message
