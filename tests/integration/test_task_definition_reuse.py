"""The pool's flow runs reuse one task-definition revision per deployment while nothing changed.

prefect-aws's ECS worker registers the task definition it renders from the pool's template
unless it finds an equal one: in its in-memory cache (per deployment, lost at every worker
restart) or, with `match_latest_revision_in_family`, the latest revision of the deployment's
family in ECS. "Equal" compares what it would register with what ECS returns. These tests run
prefect-aws's own preparation and comparison on the pool bootstrap writes, against moto's ECS
on a real Prefect server: a new worker (empty cache) must find the revision the last one
registered, and a second run must not register again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect_aws.workers import ecs_worker
from prefect_aws.workers.ecs_worker import ECSJobConfiguration, ECSWorker

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.prefect_side.work_pool import ensure_work_pool
from tests.support.samples import IMAGE, OUTPUTS

pytestmark = pytest.mark.slow
LOG = logging.getLogger(__name__)


@pytest.fixture()
def settings(local_stack: BootstrapSettings, request: pytest.FixtureRequest) -> BootstrapSettings:
    name = request.node.name[5:30].replace("_", "-").strip("-")
    return load_settings(work_pool_name=f"pool-{name}")


async def _configuration(pool_name: str, flow_run: FlowRun) -> ECSJobConfiguration:
    # As the worker does for each flow run: the pool's template with its defaults.
    async with get_client() as client:
        pool = await client.read_work_pool(pool_name)
    configuration = await ECSJobConfiguration.from_template_and_values(pool.base_job_template, {})
    configuration.prepare_for_flow_run(flow_run)
    return configuration


def _start(settings: BootstrapSettings, flow_run: FlowRun) -> tuple[str, bool]:
    """What a new worker process does for this flow run: (task definition ARN, registered?)."""
    configuration = asyncio.run(_configuration(settings.work_pool_name, flow_run))
    worker = ECSWorker(work_pool_name=settings.work_pool_name)
    definition = worker._prepare_task_definition(configuration, settings.aws_region, flow_run)
    ecs = aws.client(settings, "ecs")
    arn, registered = worker._get_or_register_task_definition(
        LOG, ecs, configuration, flow_run, definition
    )
    # What the worker then does (`_create_task_and_wait_for_start`) before RunTask.
    ecs_worker._TASK_DEFINITION_CACHE[flow_run.deployment_id] = arn
    return str(arn), bool(registered)


def _flow_run(deployment_id: uuid.UUID) -> FlowRun:
    return FlowRun(id=uuid.uuid4(), flow_id=uuid.uuid4(), deployment_id=deployment_id, name="r")


def _revisions(settings: BootstrapSettings, family_of: str) -> list[str]:
    family = family_of.rsplit("/", 1)[1].rsplit(":", 1)[0]
    ecs = aws.client(settings, "ecs")
    arns: list[str] = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    return arns


def test_a_restarted_worker_reuses_the_deployments_revision(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_work_pool(settings, OUTPUTS, IMAGE)
    deployment = uuid.uuid4()
    cache: dict[Any, str] = {}
    monkeypatch.setattr(ecs_worker, "_TASK_DEFINITION_CACHE", cache)

    first, registered = _start(settings, _flow_run(deployment))
    assert registered
    # The same worker, the next run of the deployment: its cache holds the ARN.
    assert _start(settings, _flow_run(deployment)) == (first, False)
    # A new worker (a restart, a new worker task): nothing cached, ECS holds the revision.
    cache.clear()
    assert _start(settings, _flow_run(deployment)) == (first, False)
    assert _revisions(settings, first) == [first]


def test_a_changed_pool_registers_one_new_revision(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_work_pool(settings, OUTPUTS, IMAGE)
    deployment = uuid.uuid4()
    monkeypatch.setattr(ecs_worker, "_TASK_DEFINITION_CACHE", {})
    first, _ = _start(settings, _flow_run(deployment))

    ensure_work_pool(settings, OUTPUTS, IMAGE.replace("a" * 64, "b" * 64))
    second, registered = _start(settings, _flow_run(deployment))

    assert registered and second != first
    assert _start(settings, _flow_run(deployment)) == (second, False)
    assert _revisions(settings, first) == [first, second]
