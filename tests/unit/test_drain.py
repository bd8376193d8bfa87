"""The drain's steps run side by side: with the target Prefect gone, AWS is drained anyway, and
only of what bootstrap and its worker made; every page is read and no call sends more than AWS
takes (in-process moto, made as strict as AWS there by bootstrap_local.aws_like)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from moto import mock_aws

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import drain, others
from bootstrap_flows.cleanup.task_definitions import WORKER_FAMILY
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.prefect_side.e2e_storage import CODE_PREFIX
from bootstrap_flows.prefect_side.target_prefect import TargetPrefectError
from bootstrap_flows.safety.refusal import PreflightError
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_local import aws_like
from tests.support.ports import free_port
from tests.support.samples import no_server_stack_recorded

if TYPE_CHECKING:
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_ecs.type_defs import ContainerDefinitionTypeDef

OURS, THEIRS = "a1db50a35aa251d5d6ea", "mine-1"
CONTAINER: ContainerDefinitionTypeDef = {"name": "flow", "image": "x", "memory": 512}


@pytest.fixture(autouse=True)
def like_aws() -> Iterator[None]:
    """moto's pages and batch limits as AWS's (a patch for the process, idempotent)."""
    aws_like.ecs_like_aws()
    aws_like.ecr_like_aws()
    with mock_aws():
        yield


def _manifest(layer: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": f"sha256:{layer * 64}", "size": 1},
            # moto's image digest is that of the layers' digests: one layer each, one digest.
            "layers": [{"digest": f"sha256:{layer * 64}", "size": 1}],
        }
    )


def _settings() -> BootstrapSettings:
    return load_settings(
        environment="dev",
        prefect_api_auth_string="user:pass",
        # Nothing listens there: the target Prefect of a server stack already torn down.
        prefect_api_url=f"http://127.0.0.1:{free_port()}/api",
    )


def _unknown() -> BootstrapSettings:
    return no_server_stack_recorded("dev")


def _register(ecs: ECSClient, family: str, revisions: int = 1) -> list[str]:
    return [
        ecs.register_task_definition(family=family, containerDefinitions=[CONTAINER])[
            "taskDefinition"
        ]["taskDefinitionArn"]
        for _ in range(revisions)
    ]


def _active(ecs: ECSClient) -> list[str]:
    pages = ecs.get_paginator("list_task_definitions").paginate(status="ACTIVE")
    return [arn.rsplit("/", 1)[-1] for page in pages for arn in page["taskDefinitionArns"]]


@pytest.mark.parametrize(
    ("settings_of", "failed"),
    [(_settings, httpx.HTTPError), (_unknown, TargetPrefectError)],
    ids=["gone", "unknown"],
)
def test_with_the_prefect_gone_or_unknown_aws_is_drained_of_what_bootstrap_made_only(
    settings_of: Callable[[], BootstrapSettings], failed: type[Exception]
) -> None:
    settings = settings_of()
    ecs, ecr = aws.client(settings, "ecs"), aws.client(settings, "ecr")
    s3 = aws.client(settings, "s3")
    cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    # As prefect-aws's worker names them: `prefect_<pool>_<deployment or flow id>`.
    prefix = WORKER_FAMILY.format(pool=settings.work_pool_name)
    ours = [f"{prefix}{uuid.uuid4()}" for _ in range(2)]
    arns = _register(ecs, ours[0], 3) + _register(ecs, ours[1], 2)
    ecs.deregister_task_definition(taskDefinition=arns[0])  # one already gone
    _register(ecs, "someone-else")
    # Another pool whose name begins with this one's: its families are not ours.
    _register(ecs, f"{prefix}2_{uuid.uuid4()}")
    theirs = _active(ecs)[-2:]
    ecr.create_repository(repositoryName="repo")
    for tag, layer in ((OURS, "a"), (THEIRS, "b")):
        ecr.put_image(repositoryName="repo", imageManifest=_manifest(layer), imageTag=tag)
    for bucket in ("code", "results"):
        s3.create_bucket(Bucket=bucket)
    for key in (f"{CODE_PREFIX}/flow.py", "theirs/flow.py"):
        s3.put_object(Bucket="code", Key=key, Body=b"x")
    s3.put_object(Bucket="results", Key="result-1", Body=b"x")
    platform = PlatformOutputs.model_construct(
        cluster_arn=cluster,
        ecr_repository_name="repo",
        code_bucket_name="code",
        results_bucket_name="results",
    )

    drained, failure = drain.drain(settings, platform)

    assert isinstance(failure, failed)
    assert not drained.pool_paused and drained.deployments_deleted == []
    assert drained.images_deleted == [f"repo:{OURS}"]
    assert [i["imageTags"] for i in ecr.describe_images(repositoryName="repo")["imageDetails"]] == [
        [THEIRS]
    ]
    assert drained.objects_deleted == [f"s3://code/{CODE_PREFIX}/flow.py"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="code")["Contents"]] == ["theirs/flow.py"]
    # No result keys were read (they come from the test runs on Prefect): none deleted.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="results")["Contents"]] == ["result-1"]
    assert drained.task_definitions_deregistered == arns[1:]
    assert _active(ecs) == theirs
    assert drained.tasks_stopped == []


def test_every_page_is_read_and_no_call_sends_more_than_aws_takes() -> None:
    """Over 100 of each: families, revisions of one family, flow-run tasks, pushed images."""
    settings = _settings()
    ecs, ecr = aws.client(settings, "ecs"), aws.client(settings, "ecr")
    prefix = WORKER_FAMILY.format(pool=settings.work_pool_name)
    arns = [a for _ in range(101) for a in _register(ecs, f"{prefix}{uuid.uuid4()}")]
    arns += _register(ecs, f"{prefix}{uuid.uuid4()}", 101)
    _register(ecs, "someone-else")
    cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    runs = [
        task["taskArn"]
        for _ in range(11)
        for task in ecs.run_task(
            cluster=cluster, taskDefinition="someone-else", count=10, launchType="FARGATE"
        )["tasks"]
    ]
    service = ecs.run_task(
        cluster=cluster, taskDefinition="someone-else", group="service:s", launchType="FARGATE"
    )["tasks"][0]["taskArn"]
    ecr.create_repository(repositoryName="repo")
    tags = [f"{n:020x}" for n in range(101)]
    for n, tag in enumerate(tags):
        ecr.put_image(repositoryName="repo", imageManifest=_manifest(f"{n:03x}"), imageTag=tag)
    ecr.put_image(repositoryName="repo", imageManifest=_manifest("b"), imageTag=THEIRS)
    # Past the wait at once: moto's tasks need not reach STOPPED here.
    ticks: Iterator[float] = iter([0.0, 0.0])

    def clock() -> float:
        return next(ticks, 1000.0)

    assert sorted(drain.stop_flow_run_tasks(settings, cluster, clock)) == sorted(runs)
    running = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
    assert running == [service]
    assert sorted(drain.deregister_task_definitions(settings)) == sorted(arns)
    assert _active(ecs) == ["someone-else:1"]
    assert sorted(drain.delete_pushed_images(settings, "repo")) == [f"repo:{t}" for t in tags]
    left = ecr.describe_images(repositoryName="repo")["imageDetails"]
    assert [image["imageTags"] for image in left] == [[THEIRS]]


def test_with_the_prefect_unknown_the_work_pool_is_left_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """teardown's delete_work_pool: the pool was on the server stack's Prefect, never made or
    gone with its stack; said, not refused for a URL teardown does not need."""
    from bootstrap_flows.flows import teardown

    logger = logging.getLogger("teardown-test")
    caplog.set_level(logging.INFO, logger=logger.name)
    assert teardown._delete_work_pool(_unknown(), logger) is False
    (line,) = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert line.startswith("Work pool ecs-work-pool not deleted: no Prefect API for the worker")


def test_what_is_not_bootstraps_is_found_before_anything_changes() -> None:
    """Others' objects (every version and delete marker) and images, which the drain leaves and
    S3 and ECR then refuse to delete a bucket or repository over: teardown refuses up front."""
    settings = _settings()
    ecr, s3 = aws.client(settings, "ecr"), aws.client(settings, "s3")
    ecr.create_repository(repositoryName="repo")
    platform = PlatformOutputs.model_construct(
        ecr_repository_name="repo", code_bucket_name="code", results_bucket_name="results"
    )
    for bucket in ("code", "results"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ecr.put_image(repositoryName="repo", imageManifest=_manifest("a"), imageTag=OURS)
    s3.put_object(Bucket="code", Key=f"{CODE_PREFIX}/flow.py", Body=b"x")
    others.refuse_others(settings, platform)  # only bootstrap's: nothing to refuse

    ecr.put_image(repositoryName="repo", imageManifest=_manifest("b"), imageTag=THEIRS)
    s3.put_object(Bucket="code", Key="theirs/flow.py", Body=b"x")
    s3.delete_object(Bucket="code", Key="theirs/flow.py")  # a version and a delete marker
    # With the Prefect gone no result is known to be bootstrap's: the drain leaves them too.
    s3.put_object(Bucket="results", Key="result-1", Body=b"x")
    found = others.others(settings, platform)
    digest = ecr.describe_images(repositoryName="repo", imageIds=[{"imageTag": THEIRS}])
    theirs = digest["imageDetails"][0]["imageDigest"]
    assert found == ["s3://code/theirs/flow.py", "s3://results/result-1", f"repo@{theirs} (mine-1)"]
    with pytest.raises(PreflightError, match=r"^Teardown refused, nothing changed: .* 3 "):
        others.refuse_others(settings, platform)
