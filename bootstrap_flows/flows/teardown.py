"""`teardown`: destroy what bootstrap made in an environment, and show what is left.

    preflight ─► [approval] ─► drain the pool ─► worker stack ─► server stack ─► platform stack
      ─► (work pool, state bucket: when asked) ─► receipt

The drain (pool paused, flow-run tasks stopped, the e2e deployments deleted, the worker's task
definitions deregistered, the images bootstrap pushed deleted, what its test flows wrote to the
code and results buckets deleted) runs once the first destroy plan is approved, never before.
A server stack's database is kept unless `delete_database`: teardown
then removes the server's compute, load balancer and roles, and keeps the database with what it
stands on (its subnet group and security group, the platform's network). The receipt lists what
AWS still holds for the environment, read from AWS itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.exceptions import PrefectHTTPStatusError

from bootstrap_flows import drain, receipt, target_prefect
from bootstrap_flows.approval import NotApproved, final_state
from bootstrap_flows.flows.stages import converge, preflight, state_backend
from bootstrap_flows.image import promote
from bootstrap_flows.locks import environment_lock
from bootstrap_flows.settings import BootstrapSettings
from bootstrap_flows.terraform import platform_stack, server_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.server_stack import ServerOutputs
from bootstrap_flows.terraform.state_backend import delete_state_bucket


@task(name="drain pool", cache_policy=NO_CACHE)
def drain_pool(settings: BootstrapSettings, platform: PlatformOutputs) -> drain.Drained:
    """Stop what the pool runs and remove what bootstrap and the worker made outside Terraform."""
    logger = get_run_logger()
    drained = drain.Drained()
    result_keys: list[str] = []
    try:
        drained.pool_paused = drain.pause_pool(settings)
        # Read from the test runs before their deployments go.
        result_keys = drain.e2e_result_keys(settings)
        drained.deployments_deleted = drain.delete_deployments(settings)
    except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
        # The target Prefect may be gone already (a server stack half torn down): AWS first.
        logger.warning("Could not drain the pool on %s: %s", settings.prefect_api_url, exc)
    drained = drained.model_copy(
        update=dict(
            tasks_stopped=drain.stop_flow_run_tasks(settings, platform.cluster_arn),
            task_definitions_deregistered=drain.deregister_task_definitions(settings),
            images_deleted=drain.delete_pushed_images(settings, platform.ecr_repository_name),
            objects_deleted=drain.empty_storage(settings, platform, result_keys),
        )
    )
    logger.info(
        "Drained: pool %s; stopped %d flow-run task(s); deleted %s; deregistered %d worker task "
        "definition(s); deleted bootstrap's images %s (other images in the repository stay); "
        "deleted bootstrap's objects in the storage buckets %s (other objects stay)",
        "paused" if drained.pool_paused else "not found",
        len(drained.tasks_stopped),
        drained.deployments_deleted or "no deployment",
        len(drained.task_definitions_deregistered),
        drained.images_deleted or "(none)",
        drained.objects_deleted or "(none)",
    )
    return drained


@task(name="receipt", cache_policy=NO_CACHE)
def teardown_receipt(settings: BootstrapSettings, kept: dict[str, str]) -> list[receipt.Leftover]:
    """List what AWS still holds for the environment (expected: only what was kept)."""
    left = receipt.leftovers(settings)
    rows = [
        {**item.model_dump(), "note": receipt.why_kept(item, kept) or "LEFT BEHIND"}
        for item in left
    ]
    create_table_artifact(
        key=f"{settings.environment}-teardown-receipt",
        table=rows or [{"service": "-", "resource": "(nothing left)", "note": ""}],
        description=f"What AWS still holds for {settings.environment} after teardown",
    )
    unexpected = [item.resource for item in left if receipt.why_kept(item, kept) is None]
    if unexpected:
        get_run_logger().warning("Still in AWS after teardown: %s", ", ".join(unexpected))
    return left


@dataclass
class _Teardown:
    settings: BootstrapSettings
    bucket: str
    # Confirmed by the environment's name: no pause. Else each destroy plan waits for approval.
    confirmed: bool
    platform: PlatformOutputs | None = None
    drained: drain.Drained | None = None
    kept: dict[str, str] = field(default_factory=dict)
    # The server's database was kept, and with it the platform it lives in.
    database_kept: bool = False

    def _drain_once(self) -> None:
        if self.drained is None and self.platform is not None:
            self.drained = drain_pool(self.settings, self.platform)

    def destroy(
        self, stack: str, variables: dict[str, Any], targets: list[str] | None = None
    ) -> int:
        plan, _ = converge(
            self.settings,
            stack,
            self.bucket,
            variables,
            True,
            targets,
            self.confirmed,
            before_apply=self._drain_once,
        )
        return len(plan.changes)

    def unprotect_database(self, variables: dict[str, Any]) -> None:
        """Turn deletion protection off (an in-place update): the one way RDS lets it go."""
        unprotected = variables | {"db_deletion_protection": False}
        database = [server_stack.DATABASE_ADDRESSES[0]]
        stack, bucket = server_stack.STACK, self.bucket
        converge(self.settings, stack, bucket, unprotected, False, database, self.confirmed)


def _destroy_server(run: _Teardown, server: ServerOutputs, delete_database: bool) -> int:
    """Destroy the server stack, or all of it but the database (then noted as kept)."""
    assert run.platform is not None  # a server stack stands on the platform's outputs
    variables = server_stack.server_variables(run.settings, run.platform, server.image_uri)
    state = stacks.read_state(run.settings, server_stack.STACK, run.bucket)
    if delete_database or not server_stack.holds_database(state):
        if variables["db_deletion_protection"] and server_stack.holds_database(state):
            run.unprotect_database(variables)
        if variables["db_final_snapshot"] and server_stack.holds_database(state):
            run.kept[f"{server.db_identifier}-final"] = "kept: the database's final snapshot"
        return run.destroy(server_stack.STACK, variables)
    run.database_kept = True
    run.kept[server.db_identifier] = "kept: the server's database (delete_database=true)"
    run.kept[receipt.ANYTHING_ELSE] = "kept: the platform the server's database lives in"
    targets = server_stack.addresses_besides_database(state)
    return run.destroy(server_stack.STACK, variables, targets) if targets else 0


def _destroy_stacks(run: _Teardown, delete_database: bool) -> int:
    """Destroy each stack the state records, worker first; return how many resources went."""
    settings, bucket, destroyed = run.settings, run.bucket, 0
    # Variables come from what the stacks recorded, so teardown works from any machine.
    platform = stacks.read_outputs(settings, platform_stack.STACK, bucket)
    worker = stacks.read_outputs(settings, worker_stack.STACK, bucket)
    server = stacks.read_outputs(settings, server_stack.STACK, bucket)
    run.platform = PlatformOutputs.model_validate(platform) if platform else None
    recorded_server = ServerOutputs.model_validate(server) if server else None
    if run.platform and recorded_server:
        secret = run.platform.prefect_api_secret_arn
        run.settings = server_stack.targeting_recorded(settings, secret, recorded_server)
    if run.platform and worker:
        variables = worker_stack.worker_variables(run.settings, run.platform, worker["image_uri"])
        destroyed += run.destroy(worker_stack.STACK, variables)
    if run.platform and recorded_server:
        destroyed += _destroy_server(run, recorded_server, delete_database)
        if run.database_kept:
            get_run_logger().warning(
                "Kept the server's database %s and the platform stack it lives in; run "
                "teardown with delete_database=true to remove them (a final snapshot %s-final "
                "is taken first unless server_final_snapshot is off)",
                recorded_server.db_identifier,
                recorded_server.db_identifier,
            )
            return destroyed
    if run.platform:
        destroyed += run.destroy(platform_stack.STACK, platform_stack.platform_variables(settings))
    return destroyed


def _delete_work_pool(settings: BootstrapSettings) -> bool:
    with target_prefect.client(settings) as client:
        pools = [p.name for p in client.read_work_pools()]
        if settings.work_pool_name not in pools:
            return False
        client.delete_work_pool(settings.work_pool_name)
    return True


@flow(name="teardown", log_prints=True)
def teardown(
    environment: str = "local",
    overrides: dict[str, Any] | None = None,
    delete_database: bool = False,
    delete_work_pool: bool = False,
    delete_state: bool = False,
    confirm: str | None = None,
) -> int | State[Any]:
    """Drain the pool, destroy what bootstrap made in `environment` (worker first), list what
    is left. Each destroy plan waits for approval in the UI unless `confirm` is the
    environment's name; without it the run ends `Rejected` or `TimedOut`.

    Kept unless asked: the work pool (it may hold the user's edits and other deployments), the
    state bucket with its history, a server stack's database (and the network it lives in).
    """
    settings, report = preflight(environment, overrides or {}, needs_docker=False)
    bucket = settings.state_bucket_name(report.account_id)
    try:
        with environment_lock(settings):
            state_backend(settings, report.account_id)
            run = _Teardown(settings, bucket, confirmed=confirm == settings.environment)
            destroyed = _destroy_stacks(run, delete_database)
            if promote.forget_passed(settings):
                # Its image went with the ECR repository: nothing left to promote from here.
                get_run_logger().info("Forgot the image %s's e2e run passed", environment)
            if delete_work_pool and not run.database_kept and _delete_work_pool(run.settings):
                get_run_logger().info("Deleted work pool %s", settings.work_pool_name)
            if delete_state and not run.database_kept:
                delete_state_bucket(settings, bucket)
            elif not delete_state:
                run.kept[f"arn:aws:s3:::{bucket}"] = "kept: Terraform state history"
    except NotApproved as refused:
        return final_state(refused)
    teardown_receipt(settings, run.kept)
    get_run_logger().info("Destroyed %d resources", destroyed)
    return destroyed
