"""tests/support/aws_calls.py on requests as moto's recorder writes them: which IAM requests
each call makes (action, resource, condition keys), the implied ones included."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bootstrap_local.iam_policy import Request
from tests.support.aws_calls import Call, parse_entry, requests_of

ACCOUNT = "123456789012"
ECS = f"arn:aws:ecs:us-east-1:{ACCOUNT}"
KEY = "ASIAEXAMPLEKEY000001"
AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential={KEY}/20260101/us-east-1/{{service}}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)
REGION = {"aws:RequestedRegion": "us-east-1"}


def json_entry(service: str, target: str, params: dict[str, Any]) -> dict[str, Any]:
    body = base64.b64encode(json.dumps(params).encode()).decode()
    headers = {"Authorization": AUTHORIZATION.format(service=service), "X-Amz-Target": target}
    return {"headers": headers, "method": "POST", "url": "http://x/", "body": body,
            "body_encoded": True}  # fmt: skip


def call(service: str, target: str, params: dict[str, Any]) -> Call:
    parsed = parse_entry(json_entry(service, target, params))
    assert parsed is not None
    return parsed


def test_an_entry_names_its_key_region_service_and_operation() -> None:
    parsed = call("ecs", "AmazonEC2ContainerServiceV20141113.StopTask", {"task": "t"})
    assert (parsed.key_id, parsed.region, parsed.iam_action) == (KEY, "us-east-1", "ecs:StopTask")
    query = {
        "headers": {"Authorization": AUTHORIZATION.format(service="ec2")},
        "method": "POST",
        "url": "http://x/",
        "body": "Action=DescribeVpcs&Version=2016-11-15",
    }
    described = parse_entry(query)
    assert described is not None and described.iam_action == "ec2:DescribeVpcs"
    assert parse_entry({"headers": {}, "method": "POST", "url": "http://x/moto-api/"}) is None


def test_run_task_addresses_its_definition_in_its_cluster_and_implies_pass_role_and_tags() -> None:
    run = call(
        "ecs",
        "AmazonEC2ContainerServiceV20141113.RunTask",
        {
            "cluster": "main",
            "taskDefinition": "prefect:3",
            "overrides": {"taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/flow-run"},
            "tags": [{"key": "a", "value": "b"}],
        },
    )
    cluster = {"ecs:cluster": f"{ECS}:cluster/main"}
    assert requests_of(run, ACCOUNT) == [
        Request("ecs:RunTask", f"{ECS}:task-definition/prefect:3", {**REGION, **cluster}),
        Request(
            "iam:PassRole",
            f"arn:aws:iam::{ACCOUNT}:role/flow-run",
            {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
        ),
        Request(
            "ecs:TagResource",
            f"{ECS}:task/main/*",
            {"ecs:CreateAction": "RunTask", **REGION},
        ),
    ]


def test_register_passes_both_roles_once_each() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/x"
    registered = call(
        "ecs",
        "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
        {"family": "prefect", "taskRoleArn": role, "executionRoleArn": role},
    )
    assert [(r.action, r.resource) for r in requests_of(registered, ACCOUNT)] == [
        ("ecs:RegisterTaskDefinition", f"{ECS}:task-definition/prefect:*"),
        ("iam:PassRole", role),
    ]


def test_describe_tasks_is_one_request_per_task_with_the_default_cluster() -> None:
    described = call(
        "ecs",
        "AmazonEC2ContainerServiceV20141113.DescribeTasks",
        {"tasks": ["abc", f"{ECS}:task/other/def"]},
    )
    default = {"ecs:cluster": f"{ECS}:cluster/default", **REGION}
    assert requests_of(described, ACCOUNT) == [
        Request("ecs:DescribeTasks", f"{ECS}:task/default/abc", default),
        Request("ecs:DescribeTasks", f"{ECS}:task/other/def", default),
    ]


@pytest.mark.parametrize(
    ("service", "target", "params", "resource"),
    [
        (
            "sqs",
            "AmazonSQS.ReceiveMessage",
            {"QueueUrl": f"http://127.0.0.1:4566/{ACCOUNT}/events"},
            f"arn:aws:sqs:us-east-1:{ACCOUNT}:events",
        ),
        (
            "sqs",
            "AmazonSQS.GetQueueUrl",
            {"QueueName": "events"},
            f"arn:aws:sqs:us-east-1:{ACCOUNT}:events",
        ),
        (
            "logs",
            "Logs_20140328.PutLogEvents",
            {"logGroupName": "/ecs/p", "logStreamName": "a/b/c"},
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/p:log-stream:a/b/c",
        ),
        (
            "logs",
            "Logs_20140328.DescribeLogStreams",
            {"logGroupName": "/ecs/p"},
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/p",
        ),
        ("ecs", "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition", {}, "*"),
    ],
)
def test_the_resource_each_call_addresses(
    service: str, target: str, params: dict[str, Any], resource: str
) -> None:
    (request,) = requests_of(call(service, target, params), ACCOUNT)
    assert request.resource == resource
    assert request.context == REGION


def test_a_call_without_a_mapping_is_refused_and_one_iam_never_denies_makes_none() -> None:
    with pytest.raises(KeyError, match="ecs:CreateService"):
        requests_of(Call(KEY, "us-east-1", "ecs", "CreateService"), ACCOUNT)
    assert requests_of(Call(KEY, "us-east-1", "sts", "GetCallerIdentity"), ACCOUNT) == []


def s3_entry(method: str, path: str) -> dict[str, Any]:
    headers = {"Authorization": AUTHORIZATION.format(service="s3")}
    return {"headers": headers, "method": method, "url": f"http://127.0.0.1:4566{path}"}


@pytest.mark.parametrize(
    ("method", "path", "action", "resource"),
    [
        ("HEAD", "/code/flows/e2e.py", "s3:GetObject", "arn:aws:s3:::code/flows/e2e.py"),
        ("GET", "/code?list-type=2&prefix=flows%2F", "s3:ListBucket", "arn:aws:s3:::code"),
        ("PUT", "/results/a%20b", "s3:PutObject", "arn:aws:s3:::results/a b"),
        ("PUT", "/results/r?partNumber=2&uploadId=u", "s3:PutObject", "arn:aws:s3:::results/r"),
        ("DELETE", "/results/r?uploadId=u", "s3:AbortMultipartUpload", "arn:aws:s3:::results/r"),
    ],
)
def test_an_s3_request_is_its_iam_action_on_its_bucket_or_object(
    method: str, path: str, action: str, resource: str
) -> None:
    parsed = parse_entry(s3_entry(method, path))
    assert parsed is not None
    assert requests_of(parsed, ACCOUNT) == [Request(action, resource, REGION)]


def test_an_s3_request_of_another_kind_is_left_for_the_check_to_refuse() -> None:
    parsed = parse_entry(s3_entry("PUT", "/results?policy"))
    assert parsed is not None
    with pytest.raises(KeyError, match=r"s3:PUT bucket\?policy"):
        requests_of(parsed, ACCOUNT)
