"""Before teardown destroys anything: drain what the pool made that Terraform does not know.

The ECS worker registers task definitions and starts flow-run tasks; bootstrap creates the e2e
deployments on the target Prefect, pushes images to ECR, and puts its test flow's code and
results in the storage buckets. None of that is in a Terraform state, so a destroy alone would
leave it behind (or, for a repository holding images or a bucket holding objects, fail).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import httpx
from botocore.exceptions import ClientError
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    DeploymentFilterTags,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.responses import DeploymentResponse
from prefect.exceptions import PrefectHTTPStatusError
from pydantic import BaseModel

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup.task_definitions import worker_revisions
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image import TAG_LENGTH
from bootstrap_flows.prefect_side import e2e, e2e_storage, target_prefect, work_pool
from bootstrap_flows.prefect_side.e2e_storage import CODE_PREFIX
from bootstrap_flows.terraform.platform_stack import PlatformOutputs

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import ImageDetailTypeDef
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_ecs.type_defs import TaskTypeDef

# Bootstrap tags the worker image with the first hex digits of its content hash.
PUSHED_TAG = re.compile(rf"^[0-9a-f]{{{TAG_LENGTH}}}$")
STOP_WAIT_SECONDS = 90.0
# What AWS takes in one call: DescribeTasks' tasks and BatchDeleteImage's imageIds.
DESCRIBE_TASKS_MOST = 100
DELETE_IMAGES_MOST = 100
# Bootstrap's test deployments, by name, with their flow's name.
DEPLOYMENTS = {
    e2e.DEPLOYMENT_NAME: e2e.FLOW_NAME,
    e2e_storage.DEPLOYMENT_NAME: e2e_storage.FLOW_NAME,
}

# The target Prefect may be gone already (a server stack half torn down): AWS is drained anyway.
PREFECT_ERRORS = (httpx.HTTPError, PrefectHTTPStatusError)


class Drained(BaseModel):
    """What the drain did, for the teardown receipt."""

    pool_paused: bool = False
    tasks_stopped: list[str] = []
    deployments_deleted: list[str] = []
    task_definitions_deregistered: list[str] = []
    images_deleted: list[str] = []
    objects_deleted: list[str] = []


def pause_pool(settings: BootstrapSettings) -> bool:
    """Stop the pool handing out runs (on the target Prefect); False if it is not there."""
    return work_pool.set_paused(settings, True) is not None


def _bootstrap_deployments(
    client: SyncPrefectClient, settings: BootstrapSettings
) -> list[DeploymentResponse]:
    """The test deployments bootstrap made on the pool; never the user's."""
    found = client.read_deployments(
        deployment_filter=DeploymentFilter(
            tags=DeploymentFilterTags(all_=[*e2e.DEPLOYMENT_TAGS, settings.environment])
        ),
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[settings.work_pool_name])),
    )
    return [d for d in found if d.name in DEPLOYMENTS]


def e2e_result_keys(settings: BootstrapSettings) -> list[str]:
    """The results bucket keys of what bootstrap's test runs persisted (read from the runs)."""
    with target_prefect.client(settings) as client:
        ids = [d.id for d in _bootstrap_deployments(client, settings)]
        runs = (
            client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=ids))
            )
            if ids
            else []
        )
    return sorted({key for run in runs if (key := e2e_storage.result_key(run))})


def delete_deployments(settings: BootstrapSettings) -> list[str]:
    """Delete the test deployments bootstrap made on the pool; never the user's."""
    with target_prefect.client(settings) as client:
        mine = _bootstrap_deployments(client, settings)
        for deployment in mine:
            client.delete_deployment(deployment.id)
    return [f"{DEPLOYMENTS[d.name]}/{d.name}" for d in mine]


def empty_code(settings: BootstrapSettings, platform: PlatformOutputs) -> list[str]:
    """Delete bootstrap's test flow code from the code bucket (only under its prefix)."""
    if not platform.code_bucket_name:
        return []
    bucket = platform.code_bucket_name
    return [f"s3://{bucket}/{key}" for key in aws.delete_versions(settings, bucket, CODE_PREFIX)]


def delete_results(
    settings: BootstrapSettings, platform: PlatformOutputs, result_keys: list[str]
) -> list[str]:
    """Delete what bootstrap's test runs persisted in the results bucket (exactly those keys).

    Anything else in either bucket is someone's code or results: it stays, and teardown refuses
    before it starts (cleanup/others.py), as it does for others' images."""
    if not platform.results_bucket_name:
        return []
    bucket = platform.results_bucket_name
    gone = [
        k for key in result_keys for k in aws.delete_versions(settings, bucket, key, exact=True)
    ]
    return [f"s3://{bucket}/{key}" for key in gone]


T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in runs of at most `size`, for calls AWS limits to that many items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _describe_tasks(ecs: ECSClient, cluster_arn: str, arns: Sequence[str]) -> list[TaskTypeDef]:
    return [
        task
        for chunk in chunks(arns, DESCRIBE_TASKS_MOST)
        for task in ecs.describe_tasks(cluster=cluster_arn, tasks=list(chunk))["tasks"]
    ]


def stop_flow_run_tasks(
    settings: BootstrapSettings, cluster_arn: str, clock: Callable[[], float] = time.monotonic
) -> list[str]:
    """Stop the tasks in the cluster that no service owns (flow runs); wait until they stop."""
    ecs = aws.client(settings, "ecs")
    arns = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster_arn, desiredStatus="RUNNING"
        )
        for arn in page["taskArns"]
    ]
    tasks = _describe_tasks(ecs, cluster_arn, arns)
    runs = [t["taskArn"] for t in tasks if not str(t.get("group", "")).startswith("service:")]
    for arn in runs:
        ecs.stop_task(cluster=cluster_arn, task=arn, reason="teardown: draining the pool")
    deadline = clock() + STOP_WAIT_SECONDS
    while runs and clock() < deadline:
        if all(t.get("lastStatus") == "STOPPED" for t in _describe_tasks(ecs, cluster_arn, runs)):
            break
        time.sleep(2)
    return runs


def deregister_task_definitions(settings: BootstrapSettings) -> list[str]:
    """Deregister every task definition the ECS worker registered for the pool."""
    ecs = aws.client(settings, "ecs")
    arns = worker_revisions(ecs, settings.work_pool_name)
    for arn in arns:
        ecs.deregister_task_definition(taskDefinition=arn)
    return arns


def repository_images(settings: BootstrapSettings, repository: str) -> list[ImageDetailTypeDef]:
    """Every image in the repository, every page ([] if there is no repository)."""
    ecr = aws.client(settings, "ecr")
    try:
        return [
            image
            for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository)
            for image in page["imageDetails"]
        ]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "RepositoryNotFoundException":
            return []
        raise


def pushed_by_bootstrap(image: ImageDetailTypeDef) -> bool:
    """Tagged, and only with content tags: an image bootstrap pushed (and nobody re-tagged)."""
    tags = image.get("imageTags", [])
    return bool(tags) and all(PUSHED_TAG.match(tag) for tag in tags)


def delete_pushed_images(settings: BootstrapSettings, repository: str) -> list[str]:
    """Delete the images bootstrap pushed (content tags); any other image stays (teardown
    refuses before it starts: cleanup/others.py): nobody's image is deleted unasked."""
    ecr = aws.client(settings, "ecr")
    ours = [
        image for image in repository_images(settings, repository) if pushed_by_bootstrap(image)
    ]
    for chunk in chunks(ours, DELETE_IMAGES_MOST):
        ecr.batch_delete_image(
            repositoryName=repository,
            imageIds=[{"imageDigest": image["imageDigest"]} for image in chunk],
        )
    return [f"{repository}:{tag}" for image in ours for tag in image["imageTags"]]


def drain(
    settings: BootstrapSettings, platform: PlatformOutputs
) -> tuple[Drained, Exception | None]:
    """Every step of the drain; return what it did, and why the target Prefect could not be
    drained (None: it was), e.g. none is known (target_prefect.unknown): AWS is drained all the
    same.

    The pool is paused first, so that nothing new starts while the rest is listed; the other
    steps are independent and run side by side (each makes its own clients), except that the
    test runs' result keys are read before their deployments go, and both before the results.
    """
    drained = Drained()
    failure: Exception | None = target_prefect.unknown(settings)
    try:
        drained.pool_paused = failure is None and pause_pool(settings)
    except PREFECT_ERRORS as exc:
        failure = exc
    with ThreadPoolExecutor(max_workers=4) as pool:
        stopped = pool.submit(stop_flow_run_tasks, settings, platform.cluster_arn)
        deregistered = pool.submit(deregister_task_definitions, settings)
        images = pool.submit(delete_pushed_images, settings, platform.ecr_repository_name)
        code = pool.submit(empty_code, settings, platform)
        result_keys: list[str] = []
        if failure is None:
            try:
                result_keys = e2e_result_keys(settings)
                drained.deployments_deleted = delete_deployments(settings)
            except PREFECT_ERRORS as exc:
                failure = exc
        results = delete_results(settings, platform, result_keys)
        drained.tasks_stopped = stopped.result()
        drained.task_definitions_deregistered = deregistered.result()
        drained.images_deleted = images.result()
        drained.objects_deleted = code.result() + results
    return drained, failure
