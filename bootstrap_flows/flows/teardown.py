"""`teardown`: destroy what bootstrap made in an environment, worker first.

    worker stack ─► server stack (its database only when asked) ─► platform stack

A server stack's database is kept unless `delete_database` is given: teardown then removes the
server's compute, load balancer and roles, and keeps the database with what it stands on (its
subnet group, its security group, the platform's network). Deleting it takes a final snapshot
unless `server_final_snapshot` is off.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from bootstrap_flows.flows.stages import apply_stack, plan_stack, preflight, state_backend
from bootstrap_flows.locks import environment_lock
from bootstrap_flows.settings import BootstrapSettings
from bootstrap_flows.terraform import platform_stack, server_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.server_stack import ServerOutputs


def _destroy(
    settings: BootstrapSettings,
    stack: str,
    bucket: str,
    variables: dict[str, Any],
    targets: list[str] | None = None,
) -> int:
    plan = plan_stack(settings, stack, bucket, variables, destroy=True, targets=targets)
    if plan.has_changes:
        apply_stack(settings, stack, plan)
    return len(plan.changes)


def _unprotect_database(
    settings: BootstrapSettings, bucket: str, variables: dict[str, Any]
) -> None:
    """Turn deletion protection off (an in-place update), the one way RDS lets it be deleted."""
    unprotected = variables | {"db_deletion_protection": False}
    plan = plan_stack(
        settings,
        server_stack.STACK,
        bucket,
        unprotected,
        targets=[server_stack.DATABASE_ADDRESSES[0]],
    )
    if plan.has_changes:
        apply_stack(settings, server_stack.STACK, plan)


def _destroy_server(
    settings: BootstrapSettings,
    bucket: str,
    platform: PlatformOutputs,
    server: ServerOutputs,
    delete_database: bool,
) -> tuple[int, bool]:
    """Destroy the server stack, or all of it but the database; (resources, database kept)."""
    variables = server_stack.server_variables(settings, platform, server.image_uri)
    state = stacks.read_state(settings, server_stack.STACK, bucket)
    if delete_database or not server_stack.holds_database(state):
        if variables["db_deletion_protection"] and server_stack.holds_database(state):
            _unprotect_database(settings, bucket, variables)
        return _destroy(settings, server_stack.STACK, bucket, variables), False
    targets = server_stack.addresses_besides_database(state)
    destroyed = _destroy(settings, server_stack.STACK, bucket, variables, targets) if targets else 0
    return destroyed, True


@flow(name="teardown", log_prints=True)
def teardown(
    environment: str = "local",
    overrides: dict[str, Any] | None = None,
    delete_database: bool = False,
) -> int:
    """Destroy what bootstrap made in `environment`, worker first. State history is kept.

    The work pool is left alone: it may hold the user's edits and other deployments. A server
    stack's database (and the network it lives in) is kept unless `delete_database`.
    """
    settings, report = preflight(environment, overrides or {}, needs_docker=False)
    logger = get_run_logger()
    destroyed = 0
    with environment_lock(settings):
        bucket = state_backend(settings, report.account_id)
        # Variables come from what the stacks recorded, so teardown works from any machine.
        platform = stacks.read_outputs(settings, platform_stack.STACK, bucket)
        worker = stacks.read_outputs(settings, worker_stack.STACK, bucket)
        server = stacks.read_outputs(settings, server_stack.STACK, bucket)
        outputs = PlatformOutputs.model_validate(platform) if platform else None
        recorded_server = ServerOutputs.model_validate(server) if server else None
        if outputs and recorded_server:
            secret = outputs.prefect_api_secret_arn
            settings = server_stack.targeting_recorded(settings, secret, recorded_server)
        if outputs and worker:
            variables = worker_stack.worker_variables(settings, outputs, worker["image_uri"])
            destroyed += _destroy(settings, worker_stack.STACK, bucket, variables)
        if outputs and recorded_server:
            count, kept = _destroy_server(
                settings, bucket, outputs, recorded_server, delete_database
            )
            destroyed += count
            if kept:
                logger.warning(
                    "Kept the server's database %s and the platform stack it lives in; run "
                    "teardown with delete_database=true to remove them (a final snapshot %s is "
                    "taken first unless server_final_snapshot is off)",
                    recorded_server.db_identifier,
                    f"{recorded_server.db_identifier}-final",
                )
                return destroyed
        if outputs:
            variables = platform_stack.platform_variables(settings)
            destroyed += _destroy(settings, platform_stack.STACK, bucket, variables)
    logger.info("Destroyed %d resources; state history stays in %s", destroyed, bucket)
    return destroyed
