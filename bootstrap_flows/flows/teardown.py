"""`teardown`: destroy what bootstrap made in an environment, and show what is left.

    preflight ─► nothing of others' left in the buckets and repository (cleanup/others.py)
      ─► [approval] ─► drain the pool ─► worker stack ─► server stack ─► platform stack
      ─► (work pool, state bucket: when asked) ─► receipt

The drain (pool paused, flow-run tasks stopped, the e2e deployments deleted, the worker's task
definitions deregistered, the images bootstrap pushed deleted, what its test flows wrote to the
code and results buckets deleted) runs once the first destroy plan is approved, never before.
`confirm=<environment>` approves them all before anything runs: then the drain starts at once,
beside the worker stack's plan, and the platform's destroy plan is made while the stacks on it
go; without it each plan is made and approved in turn.

A server stack's database is kept unless `delete_database`: teardown then removes the server's
compute, load balancer and roles, and keeps the database with what it stands on (its subnet
group and security group, the platform's network). The receipt lists what AWS still holds for
the environment, read from AWS itself.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import drain, others, receipt
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.flows.outcomes import failing_on_rate_limits
from bootstrap_flows.flows.stages import converge, plan_stack, preflight, state_backend
from bootstrap_flows.image import promote
from bootstrap_flows.prefect_side import alerts, target_prefect
from bootstrap_flows.safety.approval import NotApproved, final_state
from bootstrap_flows.safety.locks import environment_lock
from bootstrap_flows.terraform import platform_stack, server_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.runner import PlanResult
from bootstrap_flows.terraform.server_stack import ServerOutputs
from bootstrap_flows.terraform.state_backend import delete_state_bucket


@task(name="drain pool", cache_policy=NO_CACHE)
def drain_pool(settings: BootstrapSettings, platform: PlatformOutputs) -> drain.Drained:
    """Stop what the pool runs and remove what bootstrap and the worker made outside Terraform."""
    logger = get_run_logger()
    drained, failure = drain.drain(settings, platform)
    if failure is not None:
        where = settings.prefect_api_url or "the worker's Prefect"
        logger.warning("Could not drain the pool on %s: %s", where, failure)
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
    # Started at once when confirmed (see `start`): the drain, and destroy plans by stack.
    draining: PrefectFuture[drain.Drained] | None = None
    ahead: dict[str, PrefectFuture[PlanResult]] = field(default_factory=dict)

    def start(self, platform_variables: dict[str, Any] | None) -> None:
        """With `confirm` the destroy is approved before anything runs, so the drain starts at
        once (while the first destroy plan is made), and so does the platform's destroy plan
        when the platform goes (`platform_variables`): its state does not change while the
        stacks on it go (an object and a lock of its own). Without `confirm` nothing starts
        early: each plan is made and approved in turn, and the drain waits for the first."""
        if not self.confirmed or self.platform is None:
            return
        self.draining = drain_pool.submit(self.settings, self.platform)
        if platform_variables is not None:
            stack, bucket = platform_stack.STACK, self.bucket
            self.ahead[stack] = plan_stack.submit(
                self.settings, stack, bucket, platform_variables, destroy=True
            )

    def _drain_once(self) -> None:
        if self.drained is None and self.draining is not None:
            self.drained = self.draining.result()
        elif self.drained is None and self.platform is not None:
            self.drained = drain_pool(self.settings, self.platform)

    def _planned(self, stack: str) -> PlanResult | None:
        """The destroy plan made ahead for `stack` (None: none was, or it failed; then it is
        planned again in turn, which reports the error)."""
        future = self.ahead.pop(stack, None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception as exc:
            get_run_logger().warning(
                "The %s destroy plan made ahead failed (%s): planning it again", stack, exc
            )
            return None

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
            planned=None if targets else self._planned(stack),
        )
        return len(plan.changes)

    def finish(self) -> None:
        """A drain started early ends here at the latest (it fails the run if it failed), even
        when no plan changed anything."""
        if self.draining is not None:
            self._drain_once()

    def settle(self) -> None:
        """Wait for what was started early and is still going: it must not outlive the
        environment's lock (a plan holds its stack's state lock)."""
        for future in [self.draining, *self.ahead.values()]:
            if future is not None:
                future.wait()

    def applied_with(self, stack: str, derived: dict[str, Any]) -> dict[str, Any]:
        """The variables `stack` was last applied with, over those today's settings give (for
        what a recording from an older version lacks): a destroy plan validates with exactly
        what was applied, whatever parameters this run was given."""
        return derived | stacks.recorded_variables(self.settings, stack, self.bucket)

    def unprotect_database(self, variables: dict[str, Any]) -> None:
        """Turn deletion protection off (an in-place update): the one way RDS lets it go."""
        unprotected = variables | {"db_deletion_protection": False}
        database = [server_stack.DATABASE_ADDRESSES[0]]
        stack, bucket = server_stack.STACK, self.bucket
        converge(self.settings, stack, bucket, unprotected, False, database, self.confirmed)


def _destroy_server(
    run: _Teardown, server: ServerOutputs, state: dict[str, Any], delete_database: bool
) -> int:
    """Destroy the server stack, or all of it but the database (then noted as kept)."""
    assert run.platform is not None  # a server stack stands on the platform's outputs
    variables = run.applied_with(
        server_stack.STACK,
        server_stack.server_variables(run.settings, run.platform, server.image_uri),
    )
    if delete_database or not server_stack.holds_database(state):
        if variables["db_deletion_protection"] and server_stack.holds_database(state):
            run.unprotect_database(variables)
        # The name the state records: RDS's Delete takes it from there, not from the config.
        snapshot = server_stack.final_snapshot_identifier(state)
        if variables["db_final_snapshot"] and snapshot:
            run.kept[snapshot] = "kept: the database's final snapshot"
        return run.destroy(server_stack.STACK, variables)
    run.database_kept = True
    run.kept[server.db_identifier] = "kept: the server's database (delete_database=true)"
    run.kept[receipt.ANYTHING_ELSE] = "kept: the platform the server's database lives in"
    targets = server_stack.addresses_besides_database(state)
    return run.destroy(server_stack.STACK, variables, targets) if targets else 0


def _recorded_outputs(settings: BootstrapSettings, bucket: str) -> list[dict[str, Any]]:
    """The platform's, the worker's and the server's recorded outputs (read side by side)."""
    names = (platform_stack.STACK, worker_stack.STACK, server_stack.STACK)
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(lambda stack: stacks.read_outputs(settings, stack, bucket), names))


def _destroy_stacks(run: _Teardown, delete_database: bool) -> int:
    """Destroy each stack the state records, worker first; return how many resources went."""
    settings, bucket, destroyed = run.settings, run.bucket, 0
    # Variables come from what the stacks recorded, so teardown works from any machine.
    platform, worker, server = _recorded_outputs(settings, bucket)
    if not platform:
        return 0  # the worker and server stacks stand on the platform: none was made
    run.platform = PlatformOutputs.model_validate(platform)
    recorded_server = ServerOutputs.model_validate(server) if server else None
    server_state: dict[str, Any] = {}
    if recorded_server:
        server_state = stacks.read_state(settings, server_stack.STACK, bucket)
        secret = run.platform.prefect_api_secret_arn
        run.settings = server_stack.targeting_recorded(settings, secret, recorded_server)
    keeps_database = not delete_database and server_stack.holds_database(server_state)
    platform_variables = run.applied_with(
        platform_stack.STACK, platform_stack.platform_variables(settings)
    )
    if not keeps_database:
        # Before the drain: the platform's destroy would stop at what is not bootstrap's.
        others.refuse_others(run.settings, run.platform)
    run.start(None if keeps_database else platform_variables)
    try:
        if worker:
            variables = run.applied_with(
                worker_stack.STACK,
                worker_stack.worker_variables(run.settings, run.platform, worker["image_uri"]),
            )
            destroyed += run.destroy(worker_stack.STACK, variables)
        if recorded_server:
            destroyed += _destroy_server(run, recorded_server, server_state, delete_database)
        if recorded_server and run.database_kept:
            get_run_logger().warning(
                "Kept the server's database %s and the platform stack it lives in; run "
                "teardown with delete_database=true to remove them (a final snapshot "
                "<identifier>-final-<creation time> is taken first unless server_final_snapshot "
                "is off)",
                recorded_server.db_identifier,
            )
        else:
            destroyed += run.destroy(platform_stack.STACK, platform_variables)
        run.finish()
    finally:
        run.settle()
    return destroyed


def _delete_work_pool(
    settings: BootstrapSettings, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> bool:
    unknown = target_prefect.unknown(settings)
    if unknown is not None:
        logger.info("Work pool %s not deleted: %s", settings.work_pool_name, unknown)
        return False
    with target_prefect.client(settings) as client:
        pools = [p.name for p in client.read_work_pools()]
        if settings.work_pool_name not in pools:
            return False
        client.delete_work_pool(settings.work_pool_name)
    return True


@flow(name="teardown", log_prints=True)
@failing_on_rate_limits
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
    settings, report = preflight(environment, overrides or {}, needs_docker=False, run="teardown")
    bucket = settings.state_bucket_name(report.account_id)
    try:
        with environment_lock(settings):
            state_backend(settings, report.account_id)
            run = _Teardown(settings, bucket, confirmed=confirm == settings.environment)
            destroyed = _destroy_stacks(run, delete_database)
            logger = get_run_logger()
            if promote.forget_passed(settings):
                # Its image went with the ECR repository: nothing left to promote from here.
                logger.info("Forgot the image %s's e2e run passed", environment)
            deleted = alerts.delete(run.settings, logger)
            if deleted:
                logger.info("Deleted the environment's automations: %s", deleted)
            pool_asked = delete_work_pool and not run.database_kept
            if pool_asked and _delete_work_pool(run.settings, logger):
                logger.info("Deleted work pool %s", settings.work_pool_name)
            if delete_state and not run.database_kept:
                delete_state_bucket(settings, bucket)
            elif not delete_state:
                state_arn = f"arn:{aws.partition(settings.aws_region)}:s3:::{bucket}"
                run.kept[state_arn] = "kept: Terraform state history"
    except NotApproved as refused:
        return final_state(refused)
    teardown_receipt(settings, run.kept)
    get_run_logger().info("Destroyed %d resources", destroyed)
    return destroyed
