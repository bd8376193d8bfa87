"""`bootstrap`: provision (or confirm) the platform, worker image, worker service and ECS pool.

    preflight ─► state backend ─► plan/apply platform ─► store API secret ─► push worker image
                      └─► build worker image (starts at once, in parallel) ─────────┘
    ─► plan/apply worker ─► work pool ─► worker online ─► e2e test flow ─► summary

Each stage is a task in `stages`; values pass between them explicitly, so the run graph is this
picture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import flow

from bootstrap_flows import worker_online
from bootstrap_flows.flows.stages import (
    apply_stack,
    await_worker,
    build_worker_image,
    create_work_pool,
    e2e_test_flow,
    plan_stack,
    preflight,
    push_worker_image,
    state_backend,
    store_api_secret,
)
from bootstrap_flows.flows.summary import BootstrapResult, summary
from bootstrap_flows.locks import environment_lock
from bootstrap_flows.terraform import platform_stack, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.worker_stack import WorkerOutputs


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        timings[stage] = round(time.monotonic() - start, 1)


@flow(name="bootstrap", log_prints=True)
def bootstrap(
    environment: str = "local", overrides: dict[str, Any] | None = None
) -> BootstrapResult:
    """Provision (or confirm) the platform, worker image, worker service and ECS work pool."""
    timings: dict[str, float] = {}
    applied: dict[str, bool] = {}
    counts: dict[str, dict[str, int]] = {}
    with _timed(timings, "preflight"):
        settings, report = preflight(environment, overrides or {})
    with environment_lock(settings):
        with _timed(timings, "state backend"):
            bucket = state_backend(settings, report.account_id)
        # The image builds while Terraform applies; only the push needs the ECR repository.
        build = build_worker_image.submit(settings)
        with _timed(timings, "platform"):
            variables = platform_stack.platform_variables(settings)
            plan = plan_stack(settings, platform_stack.STACK, bucket, variables)
            platform = PlatformOutputs.model_validate(
                apply_stack(settings, platform_stack.STACK, plan)
            )
            applied["platform"], counts["platform"] = plan.has_changes, plan.counts
        with _timed(timings, "store API secret"):
            store_api_secret(settings, platform.prefect_api_secret_arn)
        with _timed(timings, "worker image (after platform)"):
            # Prefect resolves the build's future into its result before the push runs.
            pushed = push_worker_image(settings, build, platform)  # type: ignore[call-overload]
        with _timed(timings, "worker stack"):
            since = worker_online.utcnow()
            variables = worker_stack.worker_variables(settings, platform, pushed.uri)
            plan = plan_stack(settings, worker_stack.STACK, bucket, variables)
            worker = WorkerOutputs.model_validate(apply_stack(settings, worker_stack.STACK, plan))
            applied["worker"], counts["worker"] = plan.has_changes, plan.counts
            if not plan.has_changes:
                # The running worker was not replaced: a recent heartbeat proves it is online.
                since -= worker_online.RECENT_HEARTBEAT
        with _timed(timings, "work pool"):
            pool_change = create_work_pool(settings, platform, pushed.uri)
        with _timed(timings, "worker online"):
            worker_name = await_worker(settings, platform, since)
    # Outside the lock: the e2e run only reads what bootstrap made.
    with _timed(timings, "e2e test flow"):
        e2e_result = e2e_test_flow(settings, pushed.uri)
    result = BootstrapResult(
        environment=settings.environment,
        target_prefect=report.prefect_api_url,
        orchestrator_prefect=report.orchestrator_api_url,
        applied=applied,
        plan_counts=counts,
        platform=platform,
        image=pushed,
        worker=worker,
        work_pool=settings.work_pool_name,
        work_pool_change=pool_change,
        worker_name=worker_name,
        e2e=e2e_result,
        timings=timings,
    )
    summary(result)
    return result
