"""The stages of `bootstrap` and `teardown`, one Prefect task each.

Each task takes what it needs as explicit inputs and returns typed values, so the run graph in
the Prefect UI is the architecture picture (README, Stages).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE

from bootstrap_flows import image
from bootstrap_flows.config.environments import SECRET_FIELDS
from bootstrap_flows.config.settings import BootstrapSettings, SettingsError, load_settings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.docker_engine import ensure_docker
from bootstrap_flows.image import BuiltImage, PushedImage, promote
from bootstrap_flows.prefect_side import (
    alerts,
    blocks,
    e2e,
    e2e_storage,
    target_prefect,
    work_pool,
    worker_online,
)
from bootstrap_flows.safety import approval, service_linked_roles
from bootstrap_flows.safety.preflight import (
    SERVER_STACK_PENDING,
    PreflightReport,
    Run,
    run_preflight,
)
from bootstrap_flows.safety.service_linked_roles import ServiceLinkedRole
from bootstrap_flows.steps import step
from bootstrap_flows.terraform import platform_stack, server_stack, stacks
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.runner import PlanResult, StalePlan
from bootstrap_flows.terraform.state_backend import ensure_state_bucket

SECRET_SETTINGS = SECRET_FIELDS


def _artifact_key(settings: BootstrapSettings, what: str) -> str:
    return f"{settings.environment}-{what}"


@task(name="preflight", cache_policy=NO_CACHE)
def preflight(
    environment: str, overrides: dict[str, Any], needs_docker: bool = True, run: Run = "bootstrap"
) -> tuple[BootstrapSettings, PreflightReport]:
    """Validate settings, tools, AWS identity, the Prefect API and Docker. Changes nothing.

    `run`: the flow it is for (safety.preflight.Run says what each is checked for).
    """
    passed_secrets = SECRET_SETTINGS & overrides.keys()
    if passed_secrets:
        raise SettingsError(
            f"{', '.join(sorted(passed_secrets))}: never pass secrets as flow parameters (Prefect "
            "stores parameters in clear); set them in the worker's environment or env file"
        )
    settings = load_settings(environment=environment, **overrides)
    report: PreflightReport = run_preflight(settings, run)
    if needs_docker and settings.promote_from:
        promote.passed_image(settings)  # a source with nothing to promote stops the run here
    if needs_docker:
        ensure_docker()
    proven = "" if report.prefect_api_url == SERVER_STACK_PENDING else " accepts its credential"
    get_run_logger().info(
        "Preflight ok: terraform %s, AWS account %s as %s; the worker's Prefect %s%s; "
        "bootstrap runs on %s",
        report.terraform_version,
        report.account_id,
        report.caller_arn,
        report.prefect_api_url,
        proven,
        report.orchestrator_api_url,
    )
    return settings, report


@task(name="find service-linked roles", cache_policy=NO_CACHE)
def find_service_linked_roles(
    settings: BootstrapSettings, account_id: str
) -> list[ServiceLinkedRole]:
    """Preflight of bootstrap: the service-linked roles the stacks need that the account lacks
    (safety/service_linked_roles.py). Changes nothing."""
    return service_linked_roles.missing(settings, account_id)


@task(name="service-linked roles", cache_policy=NO_CACHE)
def create_service_linked_roles(
    settings: BootstrapSettings, missing: list[ServiceLinkedRole]
) -> list[str]:
    """Bootstrap's first change: create the roles preflight found missing (none: no call)."""
    return service_linked_roles.create(settings, missing, get_run_logger())


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
    targets: list[str] | None = None,
) -> PlanResult:
    logger = get_run_logger()
    with step(logger, f"plan {stack}: init"):
        terraform, var_file = stacks.open_stack(settings, stack, bucket, variables, logger)
    with step(logger, f"plan {stack}: terraform plan"):
        plan = terraform.plan(var_file=var_file, destroy=destroy, targets=targets or ())
    counts = ", ".join(f"{n} to {k}" for k, n in plan.counts.items() if n)
    with step(logger, f"plan {stack}: plan artifact"):
        create_table_artifact(
            key=_artifact_key(settings, f"{stack}-{'destroy-plan' if destroy else 'plan'}"),
            table=plan.table() or [{"address": "(no changes)", "action": "none"}],
            description=f"Terraform plan of the {stack} stack: {counts or 'no changes'}",
        )
    return plan


@task(name="review plan", cache_policy=NO_CACHE, task_run_name="review {stack} plan")
def review_plan(settings: BootstrapSettings, stack: str, plan: PlanResult, reason: str) -> str:
    """What a person approves: the plan with the attributes forcing each replacement."""
    terraform = stacks.stack_terraform(settings, stack, get_run_logger())
    forced = approval.replace_paths(terraform.show_json(plan.plan_file))
    markdown = approval.describe(stack, plan, reason, forced)
    create_markdown_artifact(
        markdown=markdown,
        key=_artifact_key(settings, f"{stack}-approval"),
        description=f"The {stack} plan waiting for approval",
    )
    return markdown


def approve(settings: BootstrapSettings, stack: str, plan: PlanResult) -> None:
    """Pause for a person's approval when the plan needs it (raises approval.NotApproved)."""
    reason = approval.reason_to_ask(settings, plan)
    if reason is not None:
        approval.ask(settings, stack, review_plan(settings, stack, plan, reason))


def converge(
    settings: BootstrapSettings,
    stack: str,
    bucket: str,
    variables: dict[str, Any],
    destroy: bool = False,
    targets: list[str] | None = None,
    confirmed: bool = False,
    before_apply: Callable[[], object] | None = None,
    planned: PlanResult | None = None,
) -> tuple[PlanResult, dict[str, Any]]:
    """Plan, have the plan approved if it needs that (unless `confirmed`), apply exactly that
    saved plan; return it with the stack's outputs. Called from a flow (a pause is the flow's).

    `before_apply` runs once the plan may be applied (teardown drains the pool there, never
    before a person approved). `planned` is a plan of exactly these inputs made ahead (in
    parallel with other work); it is used as the first plan. A plan gone stale before its
    apply (another run moved the state) is planned and asked again.
    """
    while True:
        plan = planned or plan_stack(
            settings, stack, bucket, variables, destroy=destroy, targets=targets
        )
        planned = None
        if not confirmed:
            with step(get_run_logger(), f"converge {stack}: approval"):
                approve(settings, stack, plan)
        if before_apply is not None and plan.has_changes:
            before_apply()
        try:
            outputs = apply_stack(settings, stack, bucket, plan)
        except StalePlan:
            get_run_logger().warning(
                "The %s plan went stale before it was applied (another run changed the state): "
                "nothing applied; planning again",
                stack,
            )
            continue
        if not destroy and not targets:
            with step(get_run_logger(), f"converge {stack}: variables recorded"):
                stacks.record_variables(settings, stack, bucket, variables)
        return plan, outputs


@task(name="apply", cache_policy=NO_CACHE, task_run_name="apply {stack}")
def apply_stack(
    settings: BootstrapSettings, stack: str, bucket: str, plan: PlanResult
) -> dict[str, Any]:
    """Apply the saved plan (if it changes anything) and read the stack's outputs."""
    logger = get_run_logger()
    if not plan.has_changes:
        logger.info("%s plan has no changes: nothing to apply", stack.capitalize())
        # What `terraform output` prints, read from the state object (no Terraform start-up).
        with step(logger, f"apply {stack}: outputs read"):
            return stacks.read_outputs(settings, stack, bucket)
    terraform = stacks.stack_terraform(settings, stack, logger, bucket=bucket)
    artifact: UUID = create_progress_artifact(  # type: ignore[assignment]  # sync in a sync task
        0.0,
        key=_artifact_key(settings, f"{stack}-progress"),
        description=f"Applying {len(plan.changes)} {stack} changes",
    )

    def progress(done: int, total: int) -> None:
        update_progress_artifact(artifact, 100.0 * done / max(total, 1))

    terraform.apply(plan, progress=progress)
    update_progress_artifact(artifact, 100.0)
    return stacks.read_outputs(settings, stack, bucket)


@task(name="store API secret", cache_policy=NO_CACHE)
def store_api_secret(
    settings: BootstrapSettings, secret_arn: str
) -> tuple[BootstrapSettings, bool]:
    """Write the worker's Prefect credential into its secret; return settings carrying it, and
    whether the secret changed.

    With a server of the environment's own, the credential is that server's auth string
    (given, stored or generated): the server reads the same secret.
    """
    if server_stack.uses_server_stack(settings):
        settings = settings.aimed_at(auth_string=server_stack.auth_string(settings, secret_arn))
    credential = resolve(settings).prefect_credential
    if credential is None:
        raise SettingsError(
            "no Prefect API key or auth string to store for the worker; set "
            "BOOTSTRAP_PREFECT_API_KEY or BOOTSTRAP_PREFECT_API_AUTH_STRING"
        )
    changed = platform_stack.store_api_secret(settings, secret_arn, credential.get_secret_value())
    get_run_logger().info(
        "Worker's Prefect credential %s in %s", "updated" if changed else "unchanged", secret_arn
    )
    return settings, changed


@task(name="prefect server online", cache_policy=NO_CACHE)
def await_server(settings: BootstrapSettings) -> str:
    """Wait for the server stack's API to answer with the auth string the worker will use."""
    url = target_prefect.wait_until_serving(settings, settings.server_start_timeout)
    get_run_logger().info("Prefect server at %s is serving", url)
    return url


@task(name="build worker image", cache_policy=NO_CACHE)
def build_worker_image(settings: BootstrapSettings) -> BuiltImage | None:
    """Build the worker image, unless ECR already holds its content tag (then None)."""
    if settings.promote_from:
        get_run_logger().info("Promoting from %s: not building", settings.promote_from)
        return None
    repository = platform_stack.ecr_repository_name(settings)
    return image.build_unless_in_ecr(settings, repository, get_run_logger())


@task(name="push worker image", cache_policy=NO_CACHE)
def push_worker_image(
    settings: BootstrapSettings, built: BuiltImage | None, platform: PlatformOutputs
) -> PushedImage:
    if settings.promote_from:
        return promote.promote_image(
            settings, platform.ecr_repository_name, platform.ecr_repository_url, get_run_logger()
        )
    return image.push_unless_in_ecr(
        settings,
        built,
        platform.ecr_repository_name,
        platform.ecr_repository_url,
        get_run_logger(),
    )


@task(name="storage blocks", cache_policy=NO_CACHE)
def create_storage_blocks(
    settings: BootstrapSettings, platform: PlatformOutputs
) -> blocks.StorageBlocks:
    """The code-storage and result-storage blocks (and their credentials) on the target."""
    made = blocks.ensure_storage_blocks(settings, platform)
    get_run_logger().info(
        "Storage blocks: %s", ", ".join(f"{slug} {change}" for slug, change in made.changes.items())
    )
    return made


@task(name="work pool", cache_policy=NO_CACHE)
def create_work_pool(
    settings: BootstrapSettings,
    platform: PlatformOutputs,
    image_uri: str,
    storage: blocks.StorageBlocks,
) -> str:
    env = blocks.result_env(storage)
    change, _ = work_pool.ensure_work_pool(settings, platform, image_uri, env)
    # A pool left paused (teardown's drain pauses it) would hold the e2e run for ever.
    resumed = ", resumed (it was paused)" if work_pool.set_paused(settings, False) else ""
    get_run_logger().info("Work pool %s: %s%s", settings.work_pool_name, change, resumed)
    return change + resumed


@task(name="alerts", cache_policy=NO_CACHE)
def create_alerts(settings: BootstrapSettings) -> dict[str, str]:
    """The environment's alert automations (prefect_side/alerts.py), absent ones only: an
    automation of the same name is left as a person left it."""
    logger = get_run_logger()
    changes = alerts.ensure(settings)
    if not changes:
        logger.info("Alerts: no notification_block set, no automations")
    for name, change in changes.items():
        logger.info("Automation %r: %s", name, change)
    return changes


@task(name="worker online", cache_policy=NO_CACHE)
def await_worker(settings: BootstrapSettings, platform: PlatformOutputs, since: datetime) -> str:
    name = worker_online.wait_for_worker(settings, platform, since)
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


@task(name="storage test flow", cache_policy=NO_CACHE)
def storage_e2e_flow(
    settings: BootstrapSettings, image_uri: str, storage: blocks.StorageBlocks
) -> e2e_storage.StorageE2EResult:
    result = e2e_storage.run_storage_e2e(settings, image_uri, storage)
    get_run_logger().info(
        "storage test flow run %s Completed in %.0f s: code from %s, result read back from %s",
        result.flow_run_id,
        result.seconds,
        result.code_uri,
        result.result_uri,
    )
    return result


@task(name="record passed image", cache_policy=NO_CACHE)
def record_passed_image(
    settings: BootstrapSettings,
    image_uri: str,
    e2e_result: e2e.E2EResult,
    storage_result: e2e_storage.StorageE2EResult,
) -> None:
    """What `promote_from=<this environment>` takes elsewhere (image/promote.py): recorded only
    once both test flows passed (`storage_result` is an input so the run graph shows that)."""
    promote.record_passed(settings, image_uri, e2e_result.flow_run_id)
