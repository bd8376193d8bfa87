"""The IAM linter is installed, works offline and catches what it is there to catch."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.iam_lint import as_identity_policy, lint
from tests.support.samples import ecs_trust

TASK_DEFINITIONS = "arn:aws:ecs:us-east-1:123456789012:task-definition/*"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/main"


def policy(**statement: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}


def issues(document: dict[str, Any]) -> set[str]:
    return {finding.issue for finding in lint("test", document)}


def test_a_correct_policy_has_no_finding() -> None:
    document = policy(
        Action="ecs:RunTask",
        Resource=TASK_DEFINITIONS,
        Condition={"ArnEquals": {"ecs:cluster": CLUSTER}},
    )
    assert lint("test", document) == []


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        ({"Action": "ecs:RunTasks", "Resource": TASK_DEFINITIONS}, "UNKNOWN_ACTION"),
        ({"Action": "ecs:RunTask", "Resource": CLUSTER}, "RESOURCE_MISMATCH"),
        (
            {
                "Action": "ecs:RunTask",
                "Resource": TASK_DEFINITIONS,
                "Condition": {"StringEquals": {"ecs:service": "x"}},
            },
            "UNKNOWN_CONDITION_FOR_ACTION",
        ),
        # RegisterTaskDefinition takes a task-definition resource: "*" grants more than needed.
        ({"Action": "ecs:RegisterTaskDefinition", "Resource": "*"}, "RESOURCE_STAR"),
        ({"Action": "sts:AssumeRole"}, "MALFORMED"),
    ],
)
def test_each_kind_of_mistake_is_found(statement: dict[str, Any], issue: str) -> None:
    assert issue in issues(policy(**statement))


def test_a_trust_policy_is_linted_against_its_role() -> None:
    trust = ecs_trust(StringEquals={"aws:SourceAccount": "123456789012"})
    role = "arn:aws:iam::123456789012:role/worker"
    assert lint("trust", as_identity_policy(trust, role)) == []
    trust["Statement"][0]["Action"] = "sts:AssumeRoles"
    assert issues(as_identity_policy(trust, role)) == {"UNKNOWN_ACTION"}
