"""bootstrap_local/iam_policy.py on cases whose answers AWS's documentation gives."""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap_local.iam_policy import Request, decide, trusts
from tests.support.samples import ecs_trust

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/main"
TASKS = "arn:aws:ecs:us-east-1:123456789012:task/main/*"
RUN_TASK = {
    "Effect": "Allow",
    "Action": "ecs:RunTask",
    "Resource": "arn:aws:ecs:us-east-1:123456789012:task-definition/*",
    "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER}},
}
PASS_ROLE = {
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": "arn:aws:iam::123456789012:role/flow-run",
    "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
}
DESCRIBE = {
    "Effect": "Allow",
    "Action": ["ec2:Describe*"],
    "Resource": "*",
    "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
}


def policy(*statements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/prefect:3"


@pytest.mark.parametrize(
    ("statements", "request_", "allowed"),
    [
        ((RUN_TASK,), Request("ecs:RunTask", TD, {"ecs:cluster": CLUSTER}), True),
        # Another cluster, or no cluster key at all: the condition fails.
        ((RUN_TASK,), Request("ecs:RunTask", TD, {"ecs:cluster": CLUSTER + "2"}), False),
        ((RUN_TASK,), Request("ecs:RunTask", TD), False),
        # Action names are case-insensitive; resources are not.
        ((RUN_TASK,), Request("ECS:runtask", TD, {"ecs:cluster": CLUSTER}), True),
        ((RUN_TASK,), Request("ecs:RunTask", TD.upper(), {"ecs:cluster": CLUSTER}), False),
        ((RUN_TASK,), Request("ecs:StopTask", TASKS[:-1] + "abc", {"ecs:cluster": CLUSTER}), False),
        (
            (PASS_ROLE,),
            Request(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/flow-run",
                {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            ),
            True,
        ),
        (
            (PASS_ROLE,),
            Request(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/admin",
                {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            ),
            False,
        ),
        (
            (PASS_ROLE,),
            Request(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/flow-run",
                {"iam:PassedToService": "lambda.amazonaws.com"},
            ),
            False,
        ),
        (
            (DESCRIBE,),
            Request("ec2:DescribeSubnets", "*", {"aws:RequestedRegion": "us-east-1"}),
            True,
        ),
        (
            (DESCRIBE,),
            Request("ec2:DescribeSubnets", "*", {"aws:RequestedRegion": "eu-west-1"}),
            False,
        ),
        (
            (DESCRIBE,),
            Request("ec2:CreateSubnet", "*", {"aws:RequestedRegion": "us-east-1"}),
            False,
        ),
        # An explicit Deny wins over any Allow.
        (
            (DESCRIBE, {"Effect": "Deny", "Action": "ec2:DescribeVpcs", "Resource": "*"}),
            Request("ec2:DescribeVpcs", "*", {"aws:RequestedRegion": "us-east-1"}),
            False,
        ),
        # NotAction / NotResource, negated and IfExists operators on a missing key.
        (
            ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},),
            Request("s3:GetObject", "*"),
            True,
        ),
        (
            ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},),
            Request("iam:PassRole", "*"),
            False,
        ),
        (
            ({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"},),
            Request("s3:GetObject", "arn:aws:s3:::secret/x"),
            False,
        ),
        (
            (
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"StringEqualsIfExists": {"s3:prefix": "a"}},
                },
            ),
            Request("s3:GetObject", "arn:aws:s3:::b/k"),
            True,
        ),
        (
            (
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}},
                },
            ),
            Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:RequestedRegion": "eu-west-1"}),
            False,
        ),
        # Nothing matches: implicit deny.
        ((), Request("s3:GetObject", "*"), False),
    ],
)
def test_decide(statements: tuple[dict[str, Any], ...], request_: Request, allowed: bool) -> None:
    assert decide(policy(*statements), request_) is allowed


# The iam module's trust policy (modules/iam: ecs_tasks_assume), with the account and region.
ECS_TRUST = ecs_trust(
    StringEquals={"aws:SourceAccount": "123456789012"},
    ArnLike={"aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:*"},
)
ROLE = "arn:aws:iam::123456789012:role/flow-run"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/main/0f3c"


def assume(account: str = "123456789012", source: str = TASK) -> Request:
    return Request("sts:AssumeRole", ROLE, {"aws:SourceAccount": account, "aws:SourceArn": source})


@pytest.mark.parametrize(
    ("document", "service", "request_", "trusted"),
    [
        (ECS_TRUST, "ecs-tasks.amazonaws.com", assume(), True),
        # The confused deputy the conditions are there for: ECS acting for another account.
        (ECS_TRUST, "ecs-tasks.amazonaws.com", assume(account="210987654321"), False),
        (
            ECS_TRUST,
            "ecs-tasks.amazonaws.com",
            assume(source=TASK.replace("us-east-1", "eu-west-1")),
            False,
        ),
        (ECS_TRUST, "lambda.amazonaws.com", assume(), False),
        # The prefect_server module's: no conditions.
        (
            {"Statement": [{**ECS_TRUST["Statement"][0], "Condition": {}}]},
            "ecs-tasks.amazonaws.com",
            Request("sts:AssumeRole", ROLE),
            True,
        ),
        (
            {"Statement": [{**ECS_TRUST["Statement"][0], "Principal": "*"}]},
            "ecs-tasks.amazonaws.com",
            assume(),
            True,
        ),
        (
            {
                "Statement": [
                    *ECS_TRUST["Statement"],
                    {**ECS_TRUST["Statement"][0], "Effect": "Deny", "Condition": {}},
                ]
            },
            "ecs-tasks.amazonaws.com",
            assume(),
            False,
        ),
        # A role only a person (an AWS principal) may assume: not ECS.
        (
            {"Statement": [{**ECS_TRUST["Statement"][0], "Principal": {"AWS": ROLE}}]},
            "ecs-tasks.amazonaws.com",
            assume(),
            False,
        ),
    ],
    ids=[
        "ecs",
        "other-account",
        "other-region",
        "other-service",
        "no-conditions",
        "anyone",
        "deny-wins",
        "a-person",
    ],
)
def test_a_trust_policy_lets_only_the_services_it_names_assume_the_role(
    document: dict[str, Any], service: str, request_: Request, trusted: bool
) -> None:
    assert trusts(document, service, request_) is trusted
