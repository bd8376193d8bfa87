"""The end-to-end check: the test flow baked into the worker image runs on the new pool.

Its deployment points at the code inside the image (`/opt/prefect/deployments`), so what runs
is exactly what was pushed; nothing is pulled from this machine. (`e2e_storage.py` proves the
other path: code pulled from the code bucket, the result written to the results bucket.)
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
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side import target_prefect

FLOW_NAME = "e2e-test"
DEPLOYMENT_NAME = "e2e"
IMAGE_CODE_DIR = "/opt/prefect"
ENTRYPOINT = "deployments/e2e_flow.py:e2e_test"
WHERE_ARTIFACT = "e2e-where"  # written by deployments/e2e_flow.py
# Tags of bootstrap's test deployments (and the environment's name), and of their runs.
DEPLOYMENT_TAGS = ("bootstrap", "e2e")
RUN_TAG = "bootstrap-e2e"


class E2EFailed(BootstrapError):
    """The test flow did not complete; the message carries its state and last log lines."""


class E2EResult(BaseModel):
    flow_run_id: str
    state: str
    task_arn: str | None = None
    image: str | None = None
    image_digest: str | None = None
    seconds: float


def create_deployment(
    settings: BootstrapSettings, flow_name: str, image_uri: str, **fields: Any
) -> UUID:
    """Create or update one of bootstrap's test deployments on the ECS pool; return its id.
    Tagged so teardown's drain finds it (and only it). One that already says all this is left
    as it is: Prefect validates an upsert's job variables against the pool's whole job template,
    its servers' largest cost in a profile of the suite, and a re-run would change nothing."""
    with target_prefect.client(settings) as client:
        deployment = DeploymentCreate(
            flow_id=client.create_flow_from_name(flow_name),
            work_pool_name=settings.work_pool_name,
            # Pinned to the image just pushed, whatever the pool's default says later.
            job_variables={"image": image_uri},
            tags=list(DEPLOYMENT_TAGS) + [settings.environment],
            **fields,
        )
        wanted = deployment.model_dump(exclude_unset=True)
        try:
            existing = client.read_deployment_by_name(f"{flow_name}/{deployment.name}")
        except ObjectNotFound:
            existing = None
        if existing is not None and all(
            getattr(existing, field, None) == value for field, value in wanted.items()
        ):
            return existing.id
        return client.create_deployment(**wanted)


def deploy_e2e(settings: BootstrapSettings, image_uri: str) -> UUID:
    """Create or update the e2e deployment on the ECS pool; return its id."""
    return create_deployment(
        settings,
        FLOW_NAME,
        image_uri,
        name=DEPLOYMENT_NAME,
        entrypoint=ENTRYPOINT,
        path=IMAGE_CODE_DIR,
        pull_steps=[
            {"prefect.deployments.steps.set_working_directory": {"directory": IMAGE_CODE_DIR}}
        ],
        description="bootstrap-flows end-to-end check of the ECS work pool",
    )


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


def run_to_completion(
    settings: BootstrapSettings, deployment_id: UUID, what: str, env: dict[str, str] | None = None
) -> FlowRun:
    """Run a deployment on the pool and wait (bounded) for it; say why when it did not
    complete (its state and last log lines)."""
    # Not run_deployment: it links the run to the calling flow, which lives on the orchestrator.
    with target_prefect.client(settings) as client:
        created = client.create_flow_run_from_deployment(
            deployment_id, job_variables={"env": env} if env else None, tags=[RUN_TAG]
        )
    flow_run = target_prefect.wait_for_flow_run(settings, created.id, settings.e2e_timeout)
    state = flow_run.state
    if state is None or not state.is_completed():
        name = (state.name if state else None) or "Unknown"
        lines = "\n".join(f"    {line}" for line in run_logs(settings, flow_run.id))
        waited = "" if state and state.is_final() else f" after waiting {settings.e2e_timeout} s"
        raise E2EFailed(
            f"the {what} run {flow_run.id} on pool {settings.work_pool_name!r} ended "
            f"{name}{waited}: {state.message if state else ''}\n"
            f"  last logs:\n{lines or '    (none)'}"
        )
    return flow_run


def run_e2e(
    settings: BootstrapSettings, image_uri: str, env: dict[str, str] | None = None
) -> E2EResult:
    """Run the test flow on the pool and wait (bounded) for its final state."""
    started = time.monotonic()
    deployment_id = deploy_e2e(settings, image_uri)
    flow_run = run_to_completion(settings, deployment_id, "e2e test flow", env)
    where = reported_location(settings, flow_run.id)
    return E2EResult(
        flow_run_id=str(flow_run.id),
        state=(flow_run.state.name if flow_run.state else None) or "Completed",
        seconds=round(time.monotonic() - started, 1),
        **{k: where.get(k) for k in ("task_arn", "image", "image_digest")},
    )
