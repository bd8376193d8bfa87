"""The flows users deploy: `bootstrap` and `teardown`.

bootstrap:  preflight ─► state backend ─► plan platform ─► apply platform ─► store API secret
            ─► summary. Each stage is a task; values pass between them explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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

from bootstrap_flows import local_stack, platform_stack, stacks
from bootstrap_flows.preflight import PreflightReport, run_preflight
from bootstrap_flows.settings import BootstrapSettings, SettingsError, load_settings
from bootstrap_flows.state_backend import ensure_state_bucket
from bootstrap_flows.terraform import PlanResult

SECRET_SETTINGS = {"prefect_api_key", "prefect_api_auth_string"}


class BootstrapResult(BaseModel):
    environment: str
    applied: bool
    plan_counts: dict[str, int]
    outputs: platform_stack.PlatformOutputs
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
    environment: str, overrides: dict[str, Any]
) -> tuple[BootstrapSettings, PreflightReport]:
    """Validate settings, tools, AWS identity and the Prefect API. Changes nothing."""
    passed_secrets = SECRET_SETTINGS & overrides.keys()
    if passed_secrets:
        raise SettingsError(
            f"{', '.join(sorted(passed_secrets))}: never pass secrets as flow parameters (Prefect "
            "stores parameters in clear); set them in the worker's environment or env file"
        )
    settings = load_settings(environment=environment, **overrides)
    report: PreflightReport = run_preflight(settings)
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


@task(name="plan platform", cache_policy=NO_CACHE)
def plan_platform(settings: BootstrapSettings, bucket: str, destroy: bool = False) -> PlanResult:
    logger = get_run_logger()
    terraform, var_file = stacks.open_stack(
        settings, platform_stack.STACK, bucket, platform_stack.platform_variables(settings), logger
    )
    plan = terraform.plan(var_file=var_file, destroy=destroy)
    counts = ", ".join(f"{n} to {k}" for k, n in plan.counts.items() if n)
    create_table_artifact(
        key=_artifact_key(settings, "platform-destroy-plan" if destroy else "platform-plan"),
        table=plan.table() or [{"address": "(no changes)", "action": "none"}],
        description=f"Terraform plan of the platform stack: {counts or 'no changes'}",
    )
    return plan


@task(name="apply platform", cache_policy=NO_CACHE)
def apply_platform(settings: BootstrapSettings, plan: PlanResult) -> dict[str, Any]:
    """Apply the saved plan (if it changes anything) and read the stack's outputs."""
    logger = get_run_logger()
    terraform = stacks.stack_terraform(settings, platform_stack.STACK, logger)
    if not plan.has_changes:
        logger.info("Platform plan has no changes: nothing to apply")
        return terraform.output()
    artifact: UUID = create_progress_artifact(  # type: ignore[assignment]  # sync in a sync task
        0.0,
        key=_artifact_key(settings, "platform-progress"),
        description=f"Applying {len(plan.changes)} platform changes",
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


@task(name="summary", cache_policy=NO_CACHE)
def summary(result: BootstrapResult) -> str:
    outputs = result.outputs.model_dump()
    rows = "\n".join(
        f"| `{name}` | `{', '.join(v) if isinstance(v, list) else v}` |"
        for name, v in outputs.items()
    )
    timings = "\n".join(
        f"| {stage} | {seconds:.1f} s |" for stage, seconds in result.timings.items()
    )
    counts = ", ".join(f"{k}: {v}" for k, v in result.plan_counts.items() if v)
    markdown = (
        f"# Bootstrap of `{result.environment}`\n\n"
        f"**Platform:** {'applied' if result.applied else 'no changes, nothing applied'}"
        f" ({counts or 'no changes'})\n\n"
        f"## Stage timings\n| stage | time |\n|---|---|\n{timings}\n\n"
        f"## Platform outputs\n| output | value |\n|---|---|\n{rows}\n"
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
    """Provision (or confirm) the AWS platform for a Prefect ECS worker in `environment`."""
    timings: dict[str, float] = {}
    with _timed(timings, "preflight"):
        settings, report = preflight(environment, overrides or {})
    with environment_lock(settings):
        with _timed(timings, "state backend"):
            bucket = state_backend(settings, report.account_id)
        with _timed(timings, "plan platform"):
            plan = plan_platform(settings, bucket)
        with _timed(timings, "apply platform"):
            raw_outputs = apply_platform(settings, plan)
        outputs = platform_stack.PlatformOutputs.model_validate(raw_outputs)
        with _timed(timings, "store API secret"):
            store_api_secret(settings, outputs.prefect_api_secret_arn)
    result = BootstrapResult(
        environment=settings.environment,
        applied=plan.has_changes,
        plan_counts=plan.counts,
        outputs=outputs,
        timings=timings,
    )
    summary(result)
    return result


@flow(name="teardown", log_prints=True)
def teardown(environment: str = "local", overrides: dict[str, Any] | None = None) -> int:
    """Destroy what bootstrap made in `environment`. The state bucket and its history stay."""
    settings, report = preflight(environment, overrides or {})
    with environment_lock(settings):
        bucket = state_backend(settings, report.account_id)
        plan = plan_platform(settings, bucket, destroy=True)
        if plan.has_changes:
            apply_platform(settings, plan)
    return len(plan.changes)
