"""ECS's family listing, pages, batch limits and deleted services answer as on AWS
(bootstrap_local/aws_like/ecs.py).

Each `test_stock_moto_*` shows why a patch exists: if one fails, moto does what AWS does
there; drop that part of the patch and its test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import EC2ContainerServiceResponse

from bootstrap_local import aws_like
from bootstrap_local.aws_like.ecs import DRAINING_SECONDS, PAGED, SERVICE_PATCHES, draining_seconds
from bootstrap_local.aws_like.limits import stock

PATCHED = (*PAGED, "describe_tasks", "run_task")
CONTAINER = {"name": "flow", "image": "x", "memory": 512}


@pytest.fixture
def ecs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the originals come back afterwards)."""
    for name in PATCHED:
        monkeypatch.setattr(
            EC2ContainerServiceResponse, name, stock(EC2ContainerServiceResponse, name)
        )
    for name in SERVICE_PATCHES:
        monkeypatch.setattr(
            EC2ContainerServiceBackend, name, stock(EC2ContainerServiceBackend, name)
        )
    with mock_aws():
        yield boto3.client("ecs", region_name="us-east-1")


def register(ecs: Any, family: str) -> str:
    arn: str = ecs.register_task_definition(family=family, containerDefinitions=[CONTAINER])[
        "taskDefinition"
    ]["taskDefinitionArn"]
    return arn


def gone_family(ecs: Any) -> None:
    """`app-gone`, whose only revision is deregistered, next to `app-live` (ACTIVE)."""
    register(ecs, "app-live")
    ecs.deregister_task_definition(taskDefinition=register(ecs, "app-gone"))


def run(ecs: Any, count: int) -> str:
    cluster: str = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    register(ecs, "app")
    ecs.run_task(cluster=cluster, taskDefinition="app", count=count, launchType="FARGATE")
    return cluster


def test_stock_moto_lists_a_family_without_active_revisions_as_active(ecs: Any) -> None:
    gone_family(ecs)
    listed = ecs.list_task_definition_families(familyPrefix="app-", status="ACTIVE")
    assert listed["families"] == ["app-live", "app-gone"]


def test_stock_moto_answers_every_family_in_one_page(ecs: Any) -> None:
    for n in range(101):
        register(ecs, f"app-{n}")
    listed = ecs.list_task_definition_families(familyPrefix="app-", maxResults=10)
    assert len(listed["families"]) == 101 and "nextToken" not in listed


def test_stock_moto_describes_more_than_100_tasks_and_runs_more_than_10(ecs: Any) -> None:
    cluster = run(ecs, 101)
    arns = ecs.list_tasks(cluster=cluster)["taskArns"]
    assert len(ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]) == 101


def test_families_are_listed_by_prefix_and_status_as_on_aws(ecs: Any) -> None:
    aws_like.ecs_like_aws()
    aws_like.ecs_like_aws()  # a second patch must not wrap the first
    gone_family(ecs)
    register(ecs, "other")

    def families(**status: str) -> list[str]:
        listed: list[str] = ecs.list_task_definition_families(familyPrefix="app-", **status)[
            "families"
        ]
        return listed

    assert families(status="ACTIVE") == ["app-live"]
    assert families(status="INACTIVE") == ["app-gone"]
    assert families(status="ALL") == families() == ["app-live", "app-gone"]


def test_list_calls_answer_in_pages_of_100_as_on_aws(ecs: Any) -> None:
    aws_like.ecs_like_aws()
    for n in range(101):
        register(ecs, f"app-{n}")
    first = ecs.list_task_definition_families(familyPrefix="app-")
    assert len(first["families"]) == 100
    rest = ecs.list_task_definition_families(familyPrefix="app-", nextToken=first["nextToken"])
    assert rest["families"] == ["app-100"] and "nextToken" not in rest
    pages = ecs.get_paginator("list_task_definitions").paginate(PaginationConfig={"PageSize": 40})
    assert [len(page["taskDefinitionArns"]) for page in pages] == [40, 40, 21]
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="maxResults"):
        ecs.list_tasks(maxResults=101)


def test_batches_over_aws_limits_are_refused_as_on_aws(ecs: Any) -> None:
    aws_like.ecs_like_aws()
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="greater than 10"):
        run(ecs, 11)
    cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
    for _ in range(11):
        ecs.run_task(cluster=cluster, taskDefinition="app", count=10, launchType="FARGATE")
    arns = [
        a for p in ecs.get_paginator("list_tasks").paginate(cluster=cluster) for a in p["taskArns"]
    ]
    assert len(arns) == 110
    assert len(ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"]) == 100
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="at most 100"):
        ecs.describe_tasks(cluster=cluster, tasks=arns[:101])


def service(ecs: Any, name: str = "worker") -> str:
    """An ACTIVE service `name` in cluster `c` with nothing to run (desired count 0)."""
    ecs.create_cluster(clusterName="c")
    register(ecs, "app")
    ecs.create_service(cluster="c", serviceName=name, taskDefinition="app", desiredCount=0)
    return name


def status(ecs: Any, name: str) -> str:
    described: str = ecs.describe_services(cluster="c", services=[name])["services"][0]["status"]
    return described


def test_stock_moto_ends_a_deleted_service_at_once_and_lists_it(ecs: Any) -> None:
    name = service(ecs)
    ecs.delete_service(cluster="c", service=name)
    assert status(ecs, name) == "INACTIVE"
    assert len(ecs.list_services(cluster="c")["serviceArns"]) == 1
    # The name is free again at once: on AWS this fails while the old service drains.
    ecs.create_service(cluster="c", serviceName=name, taskDefinition="app", desiredCount=0)


def test_a_deleted_service_drains_then_ends_as_on_aws(
    ecs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_like.ecs_like_aws()
    aws_like.ecs_like_aws()  # a second patch must not wrap the first
    monkeypatch.setenv(DRAINING_SECONDS, "1.5")
    name = service(ecs)
    answered = ecs.delete_service(cluster="c", service=name)["service"]
    assert answered["status"] == "DRAINING"
    assert status(ecs, name) == "DRAINING"
    assert ecs.list_services(cluster="c")["serviceArns"] == []
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="still Draining"):
        ecs.create_service(cluster="c", serviceName=name, taskDefinition="app", desiredCount=0)
    # Deleting it again neither ends nor restarts the drain.
    assert ecs.delete_service(cluster="c", service=name)["service"]["status"] == "DRAINING"
    time.sleep(1.6)
    assert status(ecs, name) == "INACTIVE"
    ecs.create_service(cluster="c", serviceName=name, taskDefinition="app", desiredCount=0)
    assert status(ecs, name) == "ACTIVE"
    assert len(ecs.list_services(cluster="c")["serviceArns"]) == 1


def test_the_draining_time_is_checked(ecs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DRAINING_SECONDS, "soon")
    with pytest.raises(ValueError, match=f"{DRAINING_SECONDS} must be a number of seconds"):
        aws_like.ecs_like_aws()
    monkeypatch.setenv(DRAINING_SECONDS, "-1")
    with pytest.raises(ValueError, match="between 0 and 600 seconds, not '-1'"):
        draining_seconds()
    monkeypatch.setenv(DRAINING_SECONDS, "0")
    aws_like.ecs_like_aws()
    name = service(ecs)
    ecs.delete_service(cluster="c", service=name)
    assert status(ecs, name) == "INACTIVE"
