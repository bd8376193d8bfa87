"""Typed sample values shared by unit and integration tests (no servers behind them)."""

from __future__ import annotations

import json
from typing import Any

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.drift.findings import Finding
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.worker_stack import WorkerOutputs

OUTPUTS = PlatformOutputs(
    region="us-east-1",
    vpc_id="vpc-1",
    vpc_cidr="10.0.0.0/16",
    public_subnet_ids=["subnet-pub1", "subnet-pub2"],
    private_subnet_ids=["subnet-priv1", "subnet-priv2"],
    nat_gateway_ids=["nat-1"],
    worker_security_group_id="sg-worker",
    cluster_name="c",
    cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/c",
    execution_role_arn="arn:aws:iam::123456789012:role/exec",
    worker_task_role_arn="arn:aws:iam::123456789012:role/worker",
    flow_run_task_role_arn="arn:aws:iam::123456789012:role/flow-run",
    ecr_repository_name="repo",
    ecr_repository_url="123456789012.dkr.ecr.us-east-1.amazonaws.com/repo",
    prefect_api_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:s",
    log_group_name="/ecs/p",
    observer_queue_name="q",
    observer_queue_url="http://q",
    observer_queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
    observer_dlq_arn="arn:aws:sqs:us-east-1:123456789012:q-dlq",
)
IMAGE = "127.0.0.1:5000/repo@sha256:" + "a" * 64
WORKER = WorkerOutputs(
    service_name="prefect-local-worker",
    service_arn="arn:aws:ecs:us-east-1:123456789012:service/c/prefect-local-worker",
    task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/w:1",
    task_definition_family="w",
    container_name="worker",
    alarm_names=["cpu", "memory"],
    autoscaling_enabled=False,
    image_uri=IMAGE,
)
# One drifted attribute, as the drift alert's message names it.
DRIFT_FINDING = Finding(
    kind="drift",
    resource="aws_ecs_service.worker",
    attribute="desired_count",
    action="update",
    expected="1",
    actual="3",
)


def no_server_stack_recorded(environment: str, **more: Any) -> BootstrapSettings:
    """prefect_server=aws on AWS as teardown sees it with no server stack recorded: no URL of
    the worker's Prefect is known (the stack's outputs give it)."""
    return load_settings(
        environment=environment,
        target="aws",
        prefect_server="aws",
        server_certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/0b1c",
        **more,
    )


def observer_queue_policy(rule_arn: str, queue_arn: str) -> str:
    """The observer module's queue access policy: EventBridge may send for this rule only."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def ecs_trust(**condition: dict[str, str]) -> dict[str, Any]:
    """A trust policy that lets ECS tasks assume the role, with the iam module's conditions
    (modules/iam: ecs_tasks_assume; e.g. StringEquals={"aws:SourceAccount": ...})."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}
