"""The flows users deploy: `bootstrap` and `teardown`.

bootstrap:
    preflight ─► state backend ─► plan/apply platform ─► store API secret ─► push worker image
                      └─► build worker image (starts at once, in parallel) ─────────┘
    ─► plan/apply worker ─► work pool ─► worker online ─► summary

Each stage is a task; values pass between them explicitly, so the run graph is this picture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from pydantic import BaseModel, Field

from bootstrap_flows import (
    e2e,
    image,
    local_stack,
    platform_stack,
    stacks,
    work_pool,
    worker_service,
)
from bootstrap_flows.docker_engine import ensure_docker
from bootstrap_flows.image import BuiltImage, PushedImage
from bootstrap_flows.platform_stack import PlatformOutputs
from bootstrap_flows.preflight import PreflightReport, run_preflight
from bootstrap_flows.settings import BootstrapSettings, SettingsError, load_settings
from bootstrap_flows.state_backend import ensure_state_bucket
from bootstrap_flows.terraform import PlanResult
from bootstrap_flows.worker_service import WorkerOutputs

SECRET_SETTINGS = {"prefect_api_key", "prefect_api_auth_string"}


class BootstrapResult(BaseModel):
    environment: str
    applied: dict[str, bool]
    plan_counts: dict[str, dict[str, int]]
    platform: PlatformOutputs
    image: PushedImage
    worker: WorkerOutputs
    work_pool: str
    work_pool_change: str
    worker_name: str
    e2e: e2e.E2EResult
    timings: dict[str, float] = Field(default_factory=dict)


def _artifact_key(settings: BootstrapSettings, what: str) -> str:
    return f"{settings.environment}-{what}"


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        timings[stage] = round(time.monotonic() - start, 1)


@contextmanager
def environment_lock(settings: BootstrapSettings) -> Iterator[None]:
    """One bootstrap/teardown per environment at a time (Terraform's state lock is the second)."""
    name = f"bootstrap-{settings.environment}"
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, limit=1)
    with concurrency(name, occupy=1, strict=True):
        yield


# --- stages ----------------------------------------------------------------------------------


@task(name="preflight", cache_policy=NO_CACHE)
def preflight(
    environment: str, overrides: dict[str, Any], needs_docker: bool = True
) -> tuple[BootstrapSettings, PreflightReport]:
    """Validate settings, tools, AWS identity, the Prefect API and Docker. Changes nothing."""
    passed_secrets = SECRET_SETTINGS & overrides.keys()
    if passed_secrets:
        raise SettingsError(
            f"{', '.join(sorted(passed_secrets))}: never pass secrets as flow parameters (Prefect "
            "stores parameters in clear); set them in the worker's environment or env file"
        )
    settings = load_settings(environment=environment, **overrides)
    report: PreflightReport = run_preflight(settings)
    if needs_docker:
        ensure_docker()
    get_run_logger().info(
        "Preflight ok: terraform %s, AWS account %s as %s, Prefect API %s",
        report.terraform_version,
        report.account_id,
        report.caller_arn,
        report.prefect_api_url,
    )
    return settings, report


@task(name="state backend", cache_policy=NO_CACHE)
def state_backend(settings: BootstrapSettings, account_id: str) -> str:
    return ensure_state_bucket(settings, account_id, get_run_logger())


@task(name="plan", cache_policy=NO_CACHE, task_run_name="plan {stack}")
def plan_stack(
    settings: BootstrapSettings,
    stack: str,
    bucket: str,
    variables: dict[str, Any],
    destroy: bool = False,
) -> PlanResult:
    logger = get_run_logger()
    terraform, var_file = stacks.open_stack(settings, stack, bucket, variables, logger)
    plan = terraform.plan(var_file=var_file, destroy=destroy)
    counts = ", ".join(f"{n} to {k}" for k, n in plan.counts.items() if n)
    create_table_artifact(
        key=_artifact_key(settings, f"{stack}-{'destroy-plan' if destroy else 'plan'}"),
        table=plan.table() or [{"address": "(no changes)", "action": "none"}],
        description=f"Terraform plan of the {stack} stack: {counts or 'no changes'}",
    )
    return plan


@task(name="apply", cache_policy=NO_CACHE, task_run_name="apply {stack}")
def apply_stack(settings: BootstrapSettings, stack: str, plan: PlanResult) -> dict[str, Any]:
    """Apply the saved plan (if it changes anything) and read the stack's outputs."""
    logger = get_run_logger()
    terraform = stacks.stack_terraform(settings, stack, logger)
    if not plan.has_changes:
        logger.info("%s plan has no changes: nothing to apply", stack.capitalize())
        return terraform.output()
    artifact: UUID = create_progress_artifact(  # type: ignore[assignment]  # sync in a sync task
        0.0,
        key=_artifact_key(settings, f"{stack}-progress"),
        description=f"Applying {len(plan.changes)} {stack} changes",
    )

    def progress(done: int, total: int) -> None:
        update_progress_artifact(artifact, 100.0 * done / max(total, 1))

    terraform.apply(plan, progress=progress)
    update_progress_artifact(artifact, 100.0)
    return terraform.output()


@task(name="store API secret", cache_policy=NO_CACHE)
def store_api_secret(settings: BootstrapSettings, secret_arn: str) -> bool:
    value = platform_stack.api_secret_value(settings)
    if value is None and settings.is_local:
        value = local_stack.auth_string(settings)
    if value is None:
        raise SettingsError("no Prefect API key or auth string to store for the worker")
    changed = platform_stack.store_api_secret(settings, secret_arn, value)
    get_run_logger().info(
        "Worker's Prefect credential %s in %s", "updated" if changed else "unchanged", secret_arn
    )
    return changed


@task(name="build worker image", cache_policy=NO_CACHE)
def build_worker_image(settings: BootstrapSettings) -> BuiltImage | None:
    """Build the worker image, unless ECR already holds its content tag (then None)."""
    logger = get_run_logger()
    tag = image.image_tag(settings)
    repository = platform_stack.ecr_repository_name(settings)
    try:
        existing = image.find_in_ecr(settings, repository, repository, tag)
    except image.ImagePushError:
        existing = None  # first bootstrap: the repository is being created right now
    if existing is not None:
        logger.info("ECR already has %s:%s; not building", repository, tag)
        return None
    return image.build_image(settings, logger)


@task(name="push worker image", cache_policy=NO_CACHE)
def push_worker_image(
    settings: BootstrapSettings, built: BuiltImage | None, platform: PlatformOutputs
) -> PushedImage:
    logger = get_run_logger()
    name, url = platform.ecr_repository_name, platform.ecr_repository_url
    if built is None:
        found = image.find_in_ecr(settings, name, url, image.image_tag(settings))
        if found is None:
            raise image.ImagePushError(f"the image vanished from ECR repository {name}; re-run")
        return found
    return image.push_image(settings, built, name, url, logger)


@task(name="work pool", cache_policy=NO_CACHE)
def create_work_pool(settings: BootstrapSettings, platform: PlatformOutputs, image_uri: str) -> str:
    change, _ = work_pool.ensure_work_pool(settings, platform, image_uri)
    get_run_logger().info("Work pool %s: %s", settings.work_pool_name, change)
    return change


@task(name="worker online", cache_policy=NO_CACHE)
def worker_online(settings: BootstrapSettings, platform: PlatformOutputs, since: datetime) -> str:
    name = worker_service.wait_for_worker(settings, platform, since)
    get_run_logger().info("Worker %s of pool %s is online", name, settings.work_pool_name)
    return name


@task(name="e2e test flow", cache_policy=NO_CACHE)
def e2e_test_flow(settings: BootstrapSettings, image_uri: str) -> e2e.E2EResult:
    result = e2e.run_e2e(settings, image_uri)
    get_run_logger().info(
        "e2e test flow run %s Completed in %.0f s on task %s",
        result.flow_run_id,
        result.seconds,
        result.task_arn,
    )
    return result


@task(name="summary", cache_policy=NO_CACHE)
def summary(result: BootstrapResult) -> str:
    def table(values: dict[str, Any]) -> str:
        return "\n".join(
            f"| `{name}` | `{', '.join(map(str, v)) if isinstance(v, list) else v}` |"
            for name, v in values.items()
        )

    timings = "\n".join(
        f"| {stage} | {seconds:.1f} s |" for stage, seconds in result.timings.items()
    )
    stacks_line = "; ".join(
        f"{stack}: {'applied' if applied else 'no changes'}"
        + (
            f" ({', '.join(f'{k} {v}' for k, v in result.plan_counts[stack].items() if v)})"
            if applied
            else ""
        )
        for stack, applied in result.applied.items()
    )
    markdown = (
        f"# Bootstrap of `{result.environment}`\n\n"
        f"**Stacks:** {stacks_line}\n\n"
        f"**Image:** `{result.image.uri}` "
        f"({'already in ECR' if result.image.skipped else 'pushed'})\n\n"
        f"**Work pool:** `{result.work_pool}` ({result.work_pool_change}); "
        f"**worker online:** `{result.worker_name}`\n\n"
        f"**e2e test flow:** run `{result.e2e.flow_run_id}` {result.e2e.state} in "
        f"{result.e2e.seconds:.0f} s on task `{result.e2e.task_arn}` "
        f"(image `{result.e2e.image_digest}`)\n\n"
        f"## Stage timings\n| stage | time |\n|---|---|\n{timings}\n\n"
        f"## Platform outputs\n| output | value |\n|---|---|\n"
        f"{table(result.platform.model_dump())}\n\n"
        f"## Worker outputs\n| output | value |\n|---|---|\n{table(result.worker.model_dump())}\n"
    )
    create_markdown_artifact(
        markdown=markdown,
        key=f"{result.environment}-bootstrap-summary",
        description=f"Bootstrap summary of {result.environment}",
    )
    return markdown


# --- flows -----------------------------------------------------------------------------------


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
            since = worker_service.utcnow()
            variables = worker_service.worker_variables(settings, platform, pushed.uri)
            plan = plan_stack(settings, worker_service.STACK, bucket, variables)
            worker = WorkerOutputs.model_validate(apply_stack(settings, worker_service.STACK, plan))
            applied["worker"], counts["worker"] = plan.has_changes, plan.counts
            if not plan.has_changes:
                # The running worker was not replaced: a recent heartbeat proves it is online.
                since -= worker_service.RECENT_HEARTBEAT
        with _timed(timings, "work pool"):
            pool_change = create_work_pool(settings, platform, pushed.uri)
        with _timed(timings, "worker online"):
            worker_name = worker_online(settings, platform, since)
    # Outside the lock: the e2e run only reads what bootstrap made.
    with _timed(timings, "e2e test flow"):
        e2e_result = e2e_test_flow(settings, pushed.uri)
    result = BootstrapResult(
        environment=settings.environment,
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


@flow(name="teardown", log_prints=True)
def teardown(environment: str = "local", overrides: dict[str, Any] | None = None) -> int:
    """Destroy what bootstrap made in `environment`, worker first. State history is kept.

    The work pool is left alone: it may hold the user's edits and other deployments.
    """
    settings, report = preflight(environment, overrides or {}, needs_docker=False)
    logger = get_run_logger()
    destroyed = 0
    with environment_lock(settings):
        bucket = state_backend(settings, report.account_id)
        # Variables come from what the stacks recorded, so teardown works from any machine.
        platform = stacks.read_outputs(settings, platform_stack.STACK, bucket, logger)
        worker = stacks.read_outputs(settings, worker_service.STACK, bucket, logger)
        targets = []
        if worker:
            outputs = PlatformOutputs.model_validate(platform)
            variables = worker_service.worker_variables(settings, outputs, worker["image_uri"])
            targets.append((worker_service.STACK, variables))
        if platform:
            targets.append((platform_stack.STACK, platform_stack.platform_variables(settings)))
        for stack, variables in targets:
            plan = plan_stack(settings, stack, bucket, variables, destroy=True)
            if plan.has_changes:
                apply_stack(settings, stack, plan)
            destroyed += len(plan.changes)
    logger.info("Destroyed %d resources; state history stays in %s", destroyed, bucket)
    return destroyed
