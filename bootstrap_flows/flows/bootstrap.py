"""`bootstrap`: provision (or confirm) the platform, worker image, worker service and ECS pool.

    preflight ─► service-linked roles (missing ones only)
    ─► state backend ─► plan/apply platform ─► store API secret ─► push worker image
                      ├─► build worker image (starts at once, in parallel) ─────────┘
                      └─► re-run only: worker plan and test flows ahead (flows/ahead.py)
    [─► plan/apply server ─► prefect server online]   (only with prefect_server = "aws")
    ─► plan/apply worker ─► storage blocks ─► work pool ─► alerts ─► worker online
    ─► e2e test flows (baked-in, and code/results buckets, at once) ─► record passed image
    ─► summary

Each stage is a task in `stages`; values pass between them explicitly, so the run graph is this
picture.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.flows import ahead
from bootstrap_flows.flows.outcomes import failing_on_rate_limits
from bootstrap_flows.flows.stages import (
    await_server,
    await_worker,
    build_worker_image,
    converge,
    create_alerts,
    create_service_linked_roles,
    create_storage_blocks,
    create_work_pool,
    e2e_test_flow,
    find_service_linked_roles,
    preflight,
    push_worker_image,
    record_passed_image,
    state_backend,
    storage_e2e_flow,
    store_api_secret,
)
from bootstrap_flows.flows.summary import BootstrapResult, summary
from bootstrap_flows.image import PushedImage
from bootstrap_flows.prefect_side import worker_online
from bootstrap_flows.prefect_side.blocks import StorageBlocks
from bootstrap_flows.prefect_side.e2e import E2EResult
from bootstrap_flows.prefect_side.e2e_storage import StorageE2EResult
from bootstrap_flows.safety.approval import NotApproved, final_state
from bootstrap_flows.safety.locks import environment_lock
from bootstrap_flows.terraform import platform_stack, server_stack, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.runner import PlanResult
from bootstrap_flows.terraform.server_stack import ServerOutputs
from bootstrap_flows.terraform.worker_stack import WorkerOutputs


@dataclass
class _Record:
    """What the run did, stage by stage, for the summary."""

    timings: dict[str, float] = field(default_factory=dict)
    applied: dict[str, bool] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(time.monotonic() - start, 1)

    def provision(
        self,
        settings: BootstrapSettings,
        stack: str,
        bucket: str,
        variables: dict[str, Any],
        planned: PlanResult | None = None,
        before_apply: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Converge one stack (approval when its plan needs it); return its outputs."""
        plan, outputs = converge(
            settings, stack, bucket, variables, planned=planned, before_apply=before_apply
        )
        self.applied[stack], self.counts[stack] = plan.has_changes, plan.counts
        return outputs


def _prefect_server(
    record: _Record,
    settings: BootstrapSettings,
    bucket: str,
    platform: PlatformOutputs,
    image_uri: str,
) -> tuple[BootstrapSettings, ServerOutputs]:
    """Apply the server stack and wait for it; return settings whose Prefect is that server."""
    variables = server_stack.server_variables(settings, platform, image_uri)
    server = ServerOutputs.model_validate(
        record.provision(settings, server_stack.STACK, bucket, variables)
    )
    settings = server_stack.targeting(settings, server.api_url)
    await_server(settings)
    return settings, server


def _worker_service(
    record: _Record,
    settings: BootstrapSettings,
    bucket: str,
    platform: PlatformOutputs,
    image_uri: str,
    started: ahead.Ahead,
) -> tuple[WorkerOutputs, datetime]:
    """Apply the worker stack; return its outputs and since when a heartbeat proves it online."""
    since = worker_online.utcnow()
    variables = worker_stack.worker_variables(settings, platform, image_uri)
    planned = started.plan_for(variables, record.applied[platform_stack.STACK])
    # A change replaces the worker: test runs made ahead on the old one finish first, or one
    # it had picked up would stay Pending with nobody left to start it.
    worker = WorkerOutputs.model_validate(
        record.provision(
            settings, worker_stack.STACK, bucket, variables, planned, started.finish_test_runs
        )
    )
    if not record.applied[worker_stack.STACK]:
        # The running worker was not replaced: a recent heartbeat proves it is online.
        since -= worker_online.RECENT_HEARTBEAT
    return worker, since


@flow(name="bootstrap", log_prints=True)
@failing_on_rate_limits
def bootstrap(
    environment: str = "local", overrides: dict[str, Any] | None = None
) -> BootstrapResult | State[Any]:
    """Provision (or confirm) the platform, worker image, worker service and ECS work pool.

    A plan that deletes or replaces anything (or any plan, where approval is required) waits
    for approval in the UI; without it the run ends `Rejected` or `TimedOut`, nothing changed.
    """
    try:
        return _bootstrap(environment, overrides or {})
    except NotApproved as refused:
        return final_state(refused)


@dataclass
class _Made:
    """What the provisioning stages made (or confirmed), for the test flows and the summary."""

    settings: BootstrapSettings
    platform: PlatformOutputs
    server: ServerOutputs | None
    image: PushedImage
    worker: WorkerOutputs
    storage: StorageBlocks
    pool_change: str
    worker_name: str
    # What the test flows rest on besides the stacks and the image: unchanged or what happened.
    changed: dict[str, str]


def _provision(
    record: _Record,
    settings: BootstrapSettings,
    bucket: str,
    started: ahead.Ahead,
) -> _Made:
    """Platform, image, [server,] worker, blocks, pool, worker online: the stages under the lock."""
    # The image builds while Terraform applies; only the push needs the ECR repository.
    build = build_worker_image.submit(settings)
    with record.stage("platform"):
        variables = platform_stack.platform_variables(settings)
        outputs = record.provision(settings, platform_stack.STACK, bucket, variables)
        platform = PlatformOutputs.model_validate(outputs)
    with record.stage("store API secret"):
        settings, secret = store_api_secret(settings, platform.prefect_api_secret_arn)
    with record.stage("worker image (after platform)"):
        # Prefect resolves the build's future into its result before the push runs.
        pushed = push_worker_image(settings, build, platform)  # type: ignore[call-overload]
    server = None
    if server_stack.uses_server_stack(settings):
        with record.stage("prefect server"):
            settings, server = _prefect_server(record, settings, bucket, platform, pushed.uri)
    with record.stage("worker stack"):
        worker, since = _worker_service(record, settings, bucket, platform, pushed.uri, started)
    with record.stage("storage blocks"):
        storage = create_storage_blocks(settings, platform)
    with record.stage("work pool"):
        pool_change = create_work_pool(settings, platform, pushed.uri, storage)
    with record.stage("alerts"):
        create_alerts(settings)
    with record.stage("worker online"):
        worker_name = await_worker(settings, platform, since)
    changed = {"work pool": pool_change, "API secret": "updated" if secret else "unchanged"}
    return _Made(
        settings,
        platform,
        server,
        pushed,
        worker,
        storage,
        pool_change,
        worker_name,
        changed | storage.changes,
    )


def _test_flows(
    made: _Made, started: ahead.Ahead, applied: dict[str, bool]
) -> tuple[E2EResult, StorageE2EResult]:
    """Both test flows' results: the runs made ahead if nothing they rest on changed, else new
    runs; recorded as the image's pass either way."""
    settings, image_uri = made.settings, made.image.uri
    unused = started.unused_because(image_uri, applied, made.changed)
    runs = None if unused else started.runs()
    if runs is None:
        # Both at once: the storage flow's run overlaps the baked-in one's.
        storage_run = storage_e2e_flow.submit(settings, image_uri, made.storage)
        e2e_result = e2e_test_flow(settings, image_uri)
        storage_result = storage_run.result()
    else:
        get_run_logger().info(
            "Test flows: the runs made ahead stand (nothing they rest on changed)"
        )
        e2e_result, storage_result = runs.e2e, runs.storage
    record_passed_image(settings, image_uri, e2e_result, storage_result)
    return e2e_result, storage_result


def _bootstrap(environment: str, overrides: dict[str, Any]) -> BootstrapResult:
    record = _Record()
    with record.stage("preflight"):
        settings, report = preflight(environment, overrides)
        missing_roles = find_service_linked_roles(settings, report.account_id)
    with environment_lock(settings):
        # The first change, once every check passed: the stacks' first cluster, load balancer
        # or database fails on an account without its service's role.
        with record.stage("service-linked roles"):
            create_service_linked_roles(settings, missing_roles)
        with record.stage("state backend"):
            bucket = state_backend(settings, report.account_id)
        started = ahead.start(settings, bucket)
        try:
            made = _provision(record, settings, bucket, started)
        except BaseException:
            # Stopped (refused, failed): no test run of ours is left going on the pool.
            started.settle()
            raise
    # Outside the lock: the e2e run only reads what bootstrap made.
    with record.stage("e2e test flows"):
        e2e_result, storage_result = _test_flows(made, started, record.applied)
        started.settle()
    result = BootstrapResult(
        environment=made.settings.environment,
        target_prefect=worker_api_url(resolve(made.settings)),
        orchestrator_prefect=report.orchestrator_api_url,
        applied=record.applied,
        plan_counts=record.counts,
        platform=made.platform,
        server=made.server,
        image=made.image,
        worker=made.worker,
        work_pool=made.settings.work_pool_name,
        work_pool_change=made.pool_change,
        worker_name=made.worker_name,
        e2e=e2e_result,
        storage=made.storage,
        storage_e2e=storage_result,
        timings=record.timings,
    )
    summary(result)
    return result
