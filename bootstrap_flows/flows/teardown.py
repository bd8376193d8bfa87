"""`teardown`: destroy what bootstrap made in an environment, worker first."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from bootstrap_flows.flows.stages import apply_stack, plan_stack, preflight, state_backend
from bootstrap_flows.locks import environment_lock
from bootstrap_flows.terraform import platform_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs


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
        platform = stacks.read_outputs(settings, platform_stack.STACK, bucket)
        worker = stacks.read_outputs(settings, worker_stack.STACK, bucket)
        targets = []
        if worker:
            outputs = PlatformOutputs.model_validate(platform)
            variables = worker_stack.worker_variables(settings, outputs, worker["image_uri"])
            targets.append((worker_stack.STACK, variables))
        if platform:
            targets.append((platform_stack.STACK, platform_stack.platform_variables(settings)))
        for stack, variables in targets:
            plan = plan_stack(settings, stack, bucket, variables, destroy=True)
            if plan.has_changes:
                apply_stack(settings, stack, plan)
            destroyed += len(plan.changes)
    logger.info("Destroyed %d resources; state history stays in %s", destroyed, bucket)
    return destroyed
