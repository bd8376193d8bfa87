"""The end-to-end check: the test flow baked into the worker image runs on the new pool.

Its deployment points at the code inside the image (`/opt/prefect/deployments`), so what runs
is exactly what was pushed; nothing is pulled from this machine.
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID

from prefect.client.schemas.actions import DeploymentCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    LogFilter,
    LogFilterFlowRunId,
)
from pydantic import BaseModel

from bootstrap_flows import target_prefect
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.settings import BootstrapSettings

FLOW_NAME = "e2e-test"
DEPLOYMENT_NAME = "e2e"
IMAGE_CODE_DIR = "/opt/prefect"
ENTRYPOINT = "deployments/e2e_flow.py:e2e_test"
WHERE_ARTIFACT = "e2e-where"  # written by deployments/e2e_flow.py


class E2EFailed(BootstrapError):
    """The test flow did not complete; the message carries its state and last log lines."""


class E2EResult(BaseModel):
    flow_run_id: str
    state: str
    task_arn: str | None = None
    image: str | None = None
    image_digest: str | None = None
    seconds: float


def deploy_e2e(settings: BootstrapSettings, image_uri: str) -> UUID:
    """Create or update the e2e deployment on the ECS pool; return its id."""
    with target_prefect.client(settings) as client:
        flow_id = client.create_flow_from_name(FLOW_NAME)
        deployment = DeploymentCreate(
            flow_id=flow_id,
            name=DEPLOYMENT_NAME,
            work_pool_name=settings.work_pool_name,
            entrypoint=ENTRYPOINT,
            path=IMAGE_CODE_DIR,
            pull_steps=[
                {"prefect.deployments.steps.set_working_directory": {"directory": IMAGE_CODE_DIR}}
            ],
            # Pinned to the image just pushed, whatever the pool's default says later.
            job_variables={"image": image_uri},
            description="bootstrap-flows end-to-end check of the ECS work pool",
            tags=["bootstrap", "e2e", settings.environment],
        )
        return client.create_deployment(**deployment.model_dump(exclude_unset=True))


def reported_location(settings: BootstrapSettings, flow_run_id: UUID) -> dict[str, Any]:
    """What the test flow reported about where it ran (its `e2e-where` table artifact)."""
    with target_prefect.client(settings) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                key=ArtifactFilterKey(any_=[WHERE_ARTIFACT]),
            )
        )
    if not artifacts:
        return {}
    rows = json.loads(artifacts[0].data) if isinstance(artifacts[0].data, str) else []
    return dict(rows[0]) if rows else {}


def run_logs(settings: BootstrapSettings, flow_run_id: UUID, limit: int = 50) -> list[str]:
    with target_prefect.client(settings) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    return [log.message for log in logs][-limit:]


def run_e2e(
    settings: BootstrapSettings, image_uri: str, env: dict[str, str] | None = None
) -> E2EResult:
    """Run the test flow on the pool and wait (bounded) for its final state."""
    started = time.monotonic()
    deployment_id = deploy_e2e(settings, image_uri)
    # Not run_deployment: it links the run to the calling flow, which lives on the orchestrator.
    with target_prefect.client(settings) as client:
        created = client.create_flow_run_from_deployment(
            deployment_id, job_variables={"env": env} if env else None, tags=["bootstrap-e2e"]
        )
    flow_run = target_prefect.wait_for_flow_run(settings, created.id, settings.e2e_timeout)
    state = flow_run.state
    name = (state.name if state else None) or "Unknown"
    if state is None or not state.is_completed():
        lines = "\n".join(f"    {line}" for line in run_logs(settings, flow_run.id))
        waited = "" if state and state.is_final() else f" after waiting {settings.e2e_timeout} s"
        raise E2EFailed(
            f"the e2e test flow run {flow_run.id} on pool {settings.work_pool_name!r} ended "
            f"{name}{waited}: {state.message if state else ''}\n"
            f"  last logs:\n{lines or '    (none)'}"
        )
    where = reported_location(settings, flow_run.id)
    return E2EResult(
        flow_run_id=str(flow_run.id),
        state=name,
        seconds=round(time.monotonic() - started, 1),
        **{k: where.get(k) for k in ("task_arn", "image", "image_digest")},
    )
