"""tests/support/iam_grants.py: policies read back from IAM, the Terraform's `# unrecorded`
comments, and the check of calls against grants in both directions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bootstrap_flows.config.settings import PROJECT_ROOT
from tests.support.aws_calls import Call
from tests.support.iam_grants import (
    Findings,
    RoleCheck,
    RolePolicies,
    read_role_policies,
    unrecorded_reasons,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:events"
URL = f"http://127.0.0.1:4566/{ACCOUNT}/events"
IAM_MODULE = PROJECT_ROOT / "infrastructure" / "terraform" / "modules" / "iam" / "main.tf"

TERRAFORM = """
data "aws_iam_policy_document" "worker" {
  statement {
    # unrecorded sqs:ChangeMessageVisibility, sqs:GetQueueAttributes: only when a
    #   handler fails.
    # Not part of the reason: a comment of its own.
    actions = ["sqs:ReceiveMessage"]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "observer"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

data "aws_iam_policy_document" "storage" {
  count = 1
  # unrecorded s3:AbortMultipartUpload: only when an upload fails.
  statement {}
}

resource "aws_iam_role_policy" "storage" {
  count  = 1
  policy = data.aws_iam_policy_document.storage[0].json
  name   = "storage"
}

resource "aws_iam_role_policy_attachment" "managed" {
  # unrecorded ecr:BatchGetImage:
  #   the agent's image pull.
  role       = aws_iam_role.worker.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}
"""


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


OBSERVER = policy(
    {
        "Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueue*"],
        "Resource": QUEUE,
    }
)


def sqs(action: str, **params: str) -> Call:
    return Call("ASIAKEY", "us-east-1", "sqs", action, {"QueueUrl": URL, **params})


def test_a_comment_names_the_policy_its_block_puts_on_a_role() -> None:
    assert unrecorded_reasons(TERRAFORM) == {
        ("inline observer", "sqs:ChangeMessageVisibility"): "only when a handler fails.",
        ("inline observer", "sqs:GetQueueAttributes"): "only when a handler fails.",
        (
            "managed AmazonECSTaskExecutionRolePolicy",
            "ecr:BatchGetImage",
        ): "the agent's image pull.",
        ("inline storage", "s3:AbortMultipartUpload"): "only when an upload fails.",
    }


def test_a_comment_outside_a_policy_is_an_error() -> None:
    stray = 'resource "aws_iam_role" "r" {\n  # unrecorded ecs:RunTask: never\n}\n'
    with pytest.raises(ValueError, match=r"resource\.aws_iam_role\.r"):
        unrecorded_reasons(stray)


def test_the_iam_modules_comments_each_give_a_reason() -> None:
    reasons = unrecorded_reasons(IAM_MODULE.read_text())
    assert reasons, "the iam module explains no unrecorded grant"
    assert all(why for why in reasons.values()), reasons


def test_calls_outside_the_grant_are_denied_and_grants_without_calls_are_unused() -> None:
    check = RoleCheck(
        RolePolicies(ROLE, {"inline observer": OBSERVER}),
        [sqs("ReceiveMessage"), sqs("ReceiveMessage"), sqs("ChangeMessageVisibility")],
    )
    check.evaluate(ACCOUNT)
    keys = "aws:RequestedRegion=us-east-1"
    assert dict(check.denied) == {("sqs:ChangeMessageVisibility", QUEUE, keys): 1}
    # A pattern grant counts as used only if a call matches it.
    assert check.unused() == [
        ("inline observer", "sqs:DeleteMessage"),
        ("inline observer", "sqs:GetQueue*"),
    ]
    findings = Findings({ROLE: check}, {}, {("inline observer", "sqs:DeleteMessage"): "never"}, [])
    assert findings.denials(set()) == [
        f"{ROLE}: 1 call(s) denied; missing: Allow sqs:ChangeMessageVisibility on {QUEUE} "
        f"with {keys}"
    ]
    assert findings.denials({("sqs:ChangeMessageVisibility", QUEUE)}) == []
    (unexplained,) = findings.unexplained([ROLE])
    assert "inline observer grants sqs:GetQueue*, never recorded" in unexplained
    report = findings.report({ROLE: "task role of 1 task(s)"})
    assert "calls seen: 3, 2 distinct: sqs:ChangeMessageVisibility x1, sqs:ReceiveMessage x2" in (
        report
    )
    assert "not recorded: sqs:DeleteMessage (inline observer): never" in report
    assert "not recorded: sqs:GetQueue* (inline observer): NO REASON GIVEN" in report


def test_a_permissions_boundary_limits_what_the_policies_allow() -> None:
    boundary = policy({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"})
    check = RoleCheck(
        RolePolicies(ROLE, {"inline observer": OBSERVER}, boundary),
        [sqs("ReceiveMessage"), sqs("DeleteMessage", ReceiptHandle="h")],
    )
    check.evaluate(ACCOUNT)
    assert [action for action, _, _ in check.denied] == ["sqs:DeleteMessage"]


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def test_policies_are_read_back_inline_managed_and_boundary(iam: Any) -> None:
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "x"}})
    managed = iam.create_policy(PolicyName="extra", PolicyDocument=json.dumps(OBSERVER))
    arn = managed["Policy"]["Arn"]
    iam.create_role(
        RoleName="worker", AssumeRolePolicyDocument=json.dumps(trust), PermissionsBoundary=arn
    )
    iam.put_role_policy(
        RoleName="worker", PolicyName="observer", PolicyDocument=json.dumps(OBSERVER)
    )
    iam.attach_role_policy(RoleName="worker", PolicyArn=arn)
    found = read_role_policies(iam, ROLE)
    assert found == RolePolicies(
        ROLE, {"inline observer": OBSERVER, "managed extra": OBSERVER}, OBSERVER
    )
    assert read_role_policies(iam, f"arn:aws:iam::{ACCOUNT}:role/gone") is None


def test_unknown_grants_by_not_action_are_refused() -> None:
    everything_but = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    with pytest.raises(ValueError, match="NotAction"):
        RolePolicies(ROLE, {"inline wide": everything_but}).grants()


class _Roles:
    """What `current_calls` asks IAM: a role's creation time (boto3's shape)."""

    class exceptions:
        NoSuchEntityException = KeyError

    def __init__(self, created: dict[str, float]) -> None:
        self.created = created

    def get_role(self, RoleName: str) -> dict[str, Any]:
        from datetime import UTC, datetime

        return {"Role": {"CreateDate": datetime.fromtimestamp(self.created[RoleName], UTC)}}


def test_calls_under_an_earlier_role_of_the_same_name_are_set_apart() -> None:
    from tests.support.aws_calls import Call
    from tests.support.iam_grants import current_calls

    role = "arn:aws:iam::123456789012:role/prefect-local-execution"
    old, new = (
        Call("AKOLD", "us-east-1", "logs", "PutLogEvents"),
        Call("AKNEW", "us-east-1", "logs", "PutLogEvents"),
    )
    ledger = {"AKOLD": {"issued": "100.0"}, "AKNEW": {"issued": "300.0"}}
    kept, earlier = current_calls(
        _Roles({"prefect-local-execution": 200.0}), {role: [old, new]}, ledger
    )
    assert kept == {role: [new]} and earlier == {role: 1}
    # A role gone from IAM keeps its calls: check_calls reports it as gone.
    gone, none = current_calls(_Roles({}), {role: [old]}, ledger)
    assert gone == {role: [old]} and none == {}
