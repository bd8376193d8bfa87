"""The drain's steps run side by side: with the target Prefect gone, AWS is drained anyway, and
only of what bootstrap and its worker made (in-process moto as AWS)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
from moto import mock_aws

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import drain
from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.prefect_side.e2e_storage import CODE_PREFIX
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from tests.support.ports import free_port

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import ContainerDefinitionTypeDef

OURS, THEIRS = "a1db50a35aa251d5d6ea", "mine-1"


def _manifest(layer: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": f"sha256:{layer * 64}", "size": 1},
            "layers": [],
        }
    )


def test_with_the_prefect_gone_aws_is_drained_of_what_bootstrap_made_only() -> None:
    settings = load_settings(
        environment="dev",
        prefect_api_auth_string="user:pass",
        # Nothing listens there: the target Prefect of a server stack already torn down.
        prefect_api_url=f"http://127.0.0.1:{free_port()}/api",
    )
    with mock_aws():
        ecs, ecr = aws.client(settings, "ecs"), aws.client(settings, "ecr")
        s3 = aws.client(settings, "s3")
        cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
        # moto 5.2.1 matches `familyPrefix` whole (AWS: as a prefix), so the worker's family
        # here is the prefix itself; prefect-aws appends the deployment or flow id to it.
        family = drain.WORKER_FAMILY.format(pool=settings.work_pool_name)
        container: ContainerDefinitionTypeDef = {"name": "flow", "image": "x", "memory": 512}
        ecs.register_task_definition(family=family, containerDefinitions=[container])
        ecs.register_task_definition(family="someone-else", containerDefinitions=[container])
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

        assert isinstance(failure, httpx.HTTPError)
        assert not drained.pool_paused and drained.deployments_deleted == []
        assert drained.images_deleted == [f"repo:{OURS}"]
        assert [
            i["imageTags"] for i in ecr.describe_images(repositoryName="repo")["imageDetails"]
        ] == [[THEIRS]]
        assert drained.objects_deleted == [f"s3://code/{CODE_PREFIX}/flow.py"]
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="code")["Contents"]] == [
            "theirs/flow.py"
        ]
        # No result keys were read (they come from the test runs on Prefect): none deleted.
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="results")["Contents"]] == ["result-1"]
        assert [a.rsplit("/", 1)[-1] for a in drained.task_definitions_deregistered] == [
            f"{family}:1"
        ]
        active = ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
        assert [a.rsplit("/", 1)[-1] for a in active] == ["someone-else:1"]
        assert drained.tasks_stopped == []
