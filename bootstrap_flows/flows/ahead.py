"""What a re-run of `bootstrap` starts ahead, while Terraform plans the platform.

On a re-run the stacks' state already records the platform's outputs and the worker's image,
so two slow parts need not wait for the platform's plan:

- the worker stack's plan, from the recorded outputs (used when the platform plan changes
  nothing and the worker's variables come out the same);
- both test flows on the pool as it stands (used when the run then changes nothing they rest
  on: no stack applied, the same image, the pool, storage blocks and API secret unchanged).

Whatever is not used is done again, in order, as on a first run; so a no-change re-run costs
its slowest part rather than the sum of its plans and test runs, and checks exactly as much.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from pydantic import BaseModel, ValidationError

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.flows.stages import plan_stack
from bootstrap_flows.prefect_side import blocks, e2e, e2e_storage, target_prefect, worker_online
from bootstrap_flows.terraform import platform_stack, server_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.runner import PlanResult


class Recorded(BaseModel):
    """What the stacks' state records from the last bootstrap."""

    platform: PlatformOutputs
    image_uri: str


class RunsAhead(BaseModel):
    """Both test flows' results, and the image they ran."""

    image_uri: str
    e2e: e2e.E2EResult
    storage: e2e_storage.StorageE2EResult


def recorded(settings: BootstrapSettings, bucket: str) -> Recorded | None:
    """The last bootstrap's outputs; None on a first run, or a state older than this code."""
    platform = stacks.read_outputs(settings, platform_stack.STACK, bucket)
    worker = stacks.read_outputs(settings, worker_stack.STACK, bucket)
    if not platform or not worker.get("image_uri"):
        return None
    try:
        return Recorded(
            platform=PlatformOutputs.model_validate(platform), image_uri=worker["image_uri"]
        )
    except ValidationError:
        return None


def unused_because(
    ran_image: str | None,
    image_uri: str,
    applied: dict[str, bool],
    changed: dict[str, str],
) -> str | None:
    """Why test runs made ahead on `ran_image` do not prove this run (None: they do).

    `changed` names what else the run may have changed, each with the word the run logged for
    it (`unchanged`, or what happened): the pool, each storage block, the API secret.
    """
    if ran_image is None:
        return "none ran ahead"
    reasons = [f"{stack} stack applied" for stack, did in applied.items() if did]
    if ran_image != image_uri:
        reasons.append(f"image {image_uri} is not {ran_image}, the one they ran")
    reasons += [f"{what} {how}" for what, how in changed.items() if how != "unchanged"]
    return "; ".join(reasons) or None


def _not_ready(settings: BootstrapSettings) -> str | None:
    """Why the pool cannot run the test flows now (None: it can: present, not paused, a worker
    heartbeat recently)."""
    cutoff = worker_online.utcnow() - worker_online.RECENT_HEARTBEAT
    with target_prefect.client(settings) as client:
        pools = {p.name: p for p in client.read_work_pools()}
        pool = pools.get(settings.work_pool_name)
        if pool is None or pool.is_paused:
            return f"pool {settings.work_pool_name} is {'paused' if pool else 'missing'}"
        workers = client.read_workers_for_work_pool(settings.work_pool_name)
    if not any(w.last_heartbeat_time and w.last_heartbeat_time >= cutoff for w in workers):
        return "no worker sent a heartbeat recently"
    return None


@task(name="test flows ahead", cache_policy=NO_CACHE)
def run_test_flows_ahead(settings: BootstrapSettings, last: Recorded) -> RunsAhead | None:
    """Both test flows on the pool as it stands; None (and a log line) when they cannot run or
    do not pass: the e2e stage then runs them again, after convergence."""
    logger = get_run_logger()
    reason = _not_ready(settings)
    if reason is not None:
        logger.info("Test flows not run ahead: %s", reason)
        return None
    try:
        storage = blocks.ensure_storage_blocks(settings, last.platform)
        with ThreadPoolExecutor(1) as other:
            storage_run = other.submit(
                e2e_storage.run_storage_e2e, settings, last.image_uri, storage
            )
            e2e_result = e2e.run_e2e(settings, last.image_uri)
            storage_result = storage_run.result()
    except Exception as exc:
        logger.warning(
            "Test flows run ahead did not pass (%s); they run again after the plans", exc
        )
        return None
    logger.info(
        "Test flows passed ahead: runs %s and %s, on image %s",
        e2e_result.flow_run_id,
        storage_result.flow_run_id,
        last.image_uri,
    )
    return RunsAhead(image_uri=last.image_uri, e2e=e2e_result, storage=storage_result)


@dataclass
class Ahead:
    """The work started ahead, and the inputs it was started with."""

    image_uri: str | None = None
    worker_variables: dict[str, Any] | None = None
    worker_plan: PrefectFuture[PlanResult] | None = None
    test_runs: PrefectFuture[RunsAhead | None] | None = None

    def plan_for(self, variables: dict[str, Any], platform_applied: bool) -> PlanResult | None:
        """The worker plan made ahead, if it was made from exactly `variables` and the platform
        did not change under it; else None (after it finished: it shares the data dir)."""
        if self.worker_plan is None:
            return None
        try:
            plan = self.worker_plan.result()
        except Exception:
            return None
        return plan if variables == self.worker_variables and not platform_applied else None

    def unused_because(
        self, image_uri: str, applied: dict[str, bool], changed: dict[str, str]
    ) -> str | None:
        """Why the test runs started ahead (if any) cannot stand for this run; logged."""
        reason = unused_because(self.image_uri, image_uri, applied, changed)
        if reason and self.test_runs is not None:
            get_run_logger().info("Test flows run again, after the plans: %s", reason)
        return reason

    def runs(self) -> RunsAhead | None:
        """The test runs made ahead (waits for them); None if none ran or they did not pass."""
        return self.test_runs.result() if self.test_runs is not None else None

    def finish_test_runs(self) -> None:
        """Wait for the test runs made ahead, if still going (before their worker is replaced)."""
        if self.test_runs is not None and not self.test_runs.state.is_final():
            get_run_logger().info("Waiting for the test flows run ahead before the worker changes")
            self.test_runs.wait()

    def settle(self) -> None:
        """Wait for what was started ahead and is still going (its outcome no longer matters)."""
        for future in (self.worker_plan, self.test_runs):
            if future is not None:
                future.wait()


def start(settings: BootstrapSettings, bucket: str) -> Ahead:
    """Start the worker plan and the test flows from what the state records (a re-run only)."""
    last = recorded(settings, bucket)
    if last is None or server_stack.uses_server_stack(settings):
        # A first run has nothing to start from; a server of the environment's own is known
        # only once its stack is applied.
        return Ahead()
    variables = worker_stack.worker_variables(settings, last.platform, last.image_uri)
    return Ahead(
        image_uri=last.image_uri,
        worker_variables=variables,
        worker_plan=plan_stack.submit(settings, worker_stack.STACK, bucket, variables),
        test_runs=run_test_flows_ahead.submit(settings, last),
    )
