"""IAM's policy simulator (SimulatePrincipalPolicy) on moto, as AWS answers it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.iam.responses import IamResponse

from bootstrap_local import aws_like

BUCKET = "arn:aws:s3:::data"
OBJECTS = "arn:aws:s3:::data/*"
OTHER = "arn:aws:s3:::other/*"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str, **condition: Any) -> dict[str, Any]:
    found = {"Effect": "Allow", "Action": action, "Resource": resource}
    return found | ({"Condition": condition} if condition else {})


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, without the simulator; the test decides (it goes afterwards)."""
    monkeypatch.delattr(IamResponse, "simulate_principal_policy", raising=False)
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def decisions(iam: Any, arn: str, actions: list[str], resources: list[str], **more: Any) -> Any:
    """(action, resource) -> decision, over every page."""
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=arn, ActionNames=actions, ResourceArns=resources, **more
    )
    return {
        (result["EvalActionName"], one["EvalResourceName"]): one["EvalResourceDecision"]
        for page in pages
        for result in page["EvaluationResults"]
        for one in result["ResourceSpecificResults"]
    }


def test_stock_moto_has_no_policy_simulator(iam: Any) -> None:
    """Why the patch exists. If this fails, moto simulates: drop the patch (or compare)."""
    arn = iam.create_user(UserName="operator")["User"]["Arn"]
    with pytest.raises(NotImplementedError, match="simulate_principal_policy"):
        iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject"])


def test_a_users_own_group_and_managed_policies_decide(iam: Any) -> None:
    aws_like.iam_like_aws()
    aws_like.iam_like_aws()  # a second patch must not wrap the first
    arn = iam.create_user(UserName="operator")["User"]["Arn"]
    iam.put_user_policy(
        UserName="operator", PolicyName="own", PolicyDocument=policy(allow("s3:GetObject", OBJECTS))
    )
    iam.create_group(GroupName="ops")
    iam.add_user_to_group(GroupName="ops", UserName="operator")
    iam.put_group_policy(
        GroupName="ops", PolicyName="group", PolicyDocument=policy(allow("s3:ListBucket", BUCKET))
    )
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": OTHER}
    managed = iam.create_policy(PolicyName="deny", PolicyDocument=policy(deny))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="operator", PolicyArn=managed)
    found = decisions(iam, arn, ["s3:GetObject", "s3:ListBucket"], [OBJECTS, BUCKET, OTHER])
    assert found == {
        ("s3:GetObject", OBJECTS): "allowed",
        ("s3:GetObject", BUCKET): "implicitDeny",
        ("s3:GetObject", OTHER): "explicitDeny",
        ("s3:ListBucket", OBJECTS): "implicitDeny",
        ("s3:ListBucket", BUCKET): "allowed",
        ("s3:ListBucket", OTHER): "explicitDeny",
    }
    [result] = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["s3:GetObject"], ResourceArns=[OBJECTS]
    )["EvaluationResults"]
    assert (result["EvalResourceName"], result["EvalDecision"]) == (OBJECTS, "allowed")


def test_a_roles_boundary_and_the_request_context_count(iam: Any) -> None:
    aws_like.iam_like_aws()
    trust = policy({"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}})
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=policy(allow("s3:*", "*")))[
        "Policy"
    ]["Arn"]
    role = iam.create_role(
        RoleName="deployer",
        Path="/ops/",
        AssumeRolePolicyDocument=trust,
        PermissionsBoundary=boundary,
    )["Role"]["Arn"]
    regional = allow(
        ["s3:GetObject", "sqs:SendMessage"], "*", StringEquals={"aws:RequestedRegion": "eu-west-1"}
    )
    iam.put_role_policy(RoleName="deployer", PolicyName="p", PolicyDocument=policy(regional))
    region = [
        {
            "ContextKeyName": "aws:RequestedRegion",
            "ContextKeyValues": ["eu-west-1"],
            "ContextKeyType": "string",
        }
    ]
    assert decisions(
        iam, role, ["s3:GetObject", "sqs:SendMessage"], ["*"], ContextEntries=region
    ) == {
        ("s3:GetObject", "*"): "allowed",
        ("sqs:SendMessage", "*"): "implicitDeny",  # the boundary does not allow SQS
    }
    # Without the region the condition fails, as on AWS (which lists it as a missing value).
    assert decisions(iam, role, ["s3:GetObject"], ["*"]) == {("s3:GetObject", "*"): "implicitDeny"}


def test_answers_come_in_pages(iam: Any) -> None:
    aws_like.iam_like_aws()
    arn = iam.create_user(UserName="operator")["User"]["Arn"]
    actions = [f"s3:Action{n}" for n in range(130)]
    first = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions)
    assert (len(first["EvaluationResults"]), first["IsTruncated"]) == (100, True)
    assert len(decisions(iam, arn, actions, ["*"])) == 130


def test_an_unknown_principal_is_no_such_entity_and_moto_s_own_identity_may_do_anything(
    iam: Any,
) -> None:
    aws_like.iam_like_aws()
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/gone", ActionNames=["s3:GetObject"]
        )
    caller = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Arn"]
    assert decisions(iam, caller, ["iam:CreateRole"], ["*"]) == {("iam:CreateRole", "*"): "allowed"}


def test_stock_moto_assumes_a_role_whose_trust_names_another_service(iam: Any) -> None:
    """Why the local ECS runtime evaluates a task role's trust policy itself
    (ecs_runtime/roles.py). If this fails, moto's STS enforces trust: let it answer instead."""
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ]
    }
    role = iam.create_role(RoleName="lambda-only", AssumeRolePolicyDocument=json.dumps(trust))
    sts = boto3.client("sts", region_name="us-east-1")
    answer = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="ecs-task")
    assert answer["Credentials"]["AccessKeyId"]
