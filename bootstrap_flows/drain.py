"""Before teardown destroys anything: drain what the pool made that Terraform does not know.

The ECS worker registers task definitions and starts flow-run tasks; bootstrap creates the e2e
deployment on the target Prefect and pushes images to ECR. None of that is in a Terraform state,
so a destroy alone would leave it behind (or, for a repository holding images, fail).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from botocore.exceptions import ClientError
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterTags,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from pydantic import BaseModel

from bootstrap_flows import aws, e2e, target_prefect, work_pool
from bootstrap_flows.image import TAG_LENGTH
from bootstrap_flows.settings import BootstrapSettings

# prefect-aws names the task definitions it registers `prefect_<pool>_<deployment or flow id>`.
WORKER_FAMILY = "prefect_{pool}_"
# Bootstrap tags the worker image with the first hex digits of its content hash.
PUSHED_TAG = re.compile(rf"^[0-9a-f]{{{TAG_LENGTH}}}$")
STOP_WAIT_SECONDS = 90.0


class Drained(BaseModel):
    """What the drain did, for the teardown receipt."""

    pool_paused: bool = False
    tasks_stopped: list[str] = []
    deployments_deleted: list[str] = []
    task_definitions_deregistered: list[str] = []
    images_deleted: list[str] = []


def pause_pool(settings: BootstrapSettings) -> bool:
    """Stop the pool handing out runs (on the target Prefect); False if it is not there."""
    return work_pool.set_paused(settings, True) is not None


def delete_deployments(settings: BootstrapSettings) -> list[str]:
    """Delete the deployments bootstrap made on the pool (the e2e one); never the user's."""
    with target_prefect.client(settings) as client:
        found = client.read_deployments(
            deployment_filter=DeploymentFilter(
                tags=DeploymentFilterTags(all_=["bootstrap", "e2e", settings.environment])
            ),
            work_pool_filter=WorkPoolFilter(
                name=WorkPoolFilterName(any_=[settings.work_pool_name])
            ),
        )
        mine = [d for d in found if d.name == e2e.DEPLOYMENT_NAME]
        for deployment in mine:
            client.delete_deployment(deployment.id)
    return [f"{e2e.FLOW_NAME}/{d.name}" for d in mine]


def stop_flow_run_tasks(
    settings: BootstrapSettings, cluster_arn: str, clock: Callable[[], float] = time.monotonic
) -> list[str]:
    """Stop the tasks in the cluster that no service owns (flow runs); wait until they stop."""
    ecs = aws.client(settings, "ecs")
    arns = ecs.list_tasks(cluster=cluster_arn, desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster=cluster_arn, tasks=arns)["tasks"] if arns else []
    runs = [t["taskArn"] for t in tasks if not str(t.get("group", "")).startswith("service:")]
    for arn in runs:
        ecs.stop_task(cluster=cluster_arn, task=arn, reason="teardown: draining the pool")
    deadline = clock() + STOP_WAIT_SECONDS
    while runs and clock() < deadline:
        described = ecs.describe_tasks(cluster=cluster_arn, tasks=runs)["tasks"]
        if all(t.get("lastStatus") == "STOPPED" for t in described):
            break
        time.sleep(2)
    return runs


def deregister_task_definitions(settings: BootstrapSettings) -> list[str]:
    """Deregister every task definition the ECS worker registered for the pool."""
    ecs = aws.client(settings, "ecs")
    prefix = WORKER_FAMILY.format(pool=settings.work_pool_name)
    arns: list[str] = []
    for page in ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix=prefix, status="ACTIVE"
    ):
        arns += page["taskDefinitionArns"]
    for arn in arns:
        ecs.deregister_task_definition(taskDefinition=arn)
    return arns


def delete_pushed_images(settings: BootstrapSettings, repository: str) -> list[str]:
    """Delete the images bootstrap pushed (content tags); any other image stays, and then the
    repository's destroy stops with ECR's own message: nobody's image is deleted unasked."""
    ecr = aws.client(settings, "ecr")
    try:
        images = ecr.describe_images(repositoryName=repository)["imageDetails"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "RepositoryNotFoundException":
            return []
        raise
    ours = [
        image
        for image in images
        if image.get("imageTags") and all(PUSHED_TAG.match(t) for t in image["imageTags"])
    ]
    if ours:
        ecr.batch_delete_image(
            repositoryName=repository,
            imageIds=[{"imageDigest": image["imageDigest"]} for image in ours],
        )
    return [f"{repository}:{tag}" for image in ours for tag in image["imageTags"]]
