"""Every IAM policy the platform's modules write, as IAM and SQS hold it after a Terraform apply
on emulated AWS, linted with parliament (tests/support/iam_lint.py); and every role of every
module carries the permissions boundary it is given (issue 23).

tests/fixtures/terraform/policies uses the modules with every policy-bearing option on and a
boundary. The SQS queue policy waits ~50 s for attribute propagation on the emulator, so it is
rendered by `terraform plan` once its queue and rule exist; everything else is read back from
the account.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from bootstrap_flows.terraform.runner import Terraform
from tests.support.iam_lint import Finding, as_identity_policy, lint
from tests.support.servers import moto_server

pytestmark = pytest.mark.slow  # Terraform applies the modules against a moto of its own

ROOT = Path(__file__).parents[1] / "fixtures" / "terraform" / "policies"
# Applied first: the queue policy's inputs; the queue (its policy inline) is only planned.
FIRST = [
    "module.iam",
    "module.network",
    "module.observer.aws_cloudwatch_event_rule.this",
    # Only the roles of these two: the rest of them needs a VPC, a database, a load balancer.
    "module.server.aws_iam_role.execution",
    "module.server.aws_iam_role.task",
    "module.ci.aws_iam_role.this",
]
QUEUE_POLICY = "module.observer.aws_sqs_queue.this"
BOUNDARY = "arn:aws:iam::123456789012:policy/policies-boundary"


def _terraform(terraform: Terraform, command: str, *args: str) -> str:
    result = subprocess.run(
        ["terraform", f"-chdir={ROOT}", command, "-no-color", *args],
        env=terraform.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _role_policies(iam: Any) -> dict[str, dict[str, Any]]:
    """Inline and trust policy of every role, by where they live."""
    found: dict[str, dict[str, Any]] = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
        found[f"role {name} trust"] = as_identity_policy(trust, role["Arn"])
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            found[f"role {name} inline {policy}"] = document
    return found


@dataclass(frozen=True)
class Applied:
    iam: Any  # a client of the emulated account the fixture applied to
    policies: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    work = tmp_path_factory.mktemp("policies")
    with moto_server(work / "moto.log", managed_policies=True) as url:
        env = {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
        terraform = Terraform(ROOT, work, env=env, provider_mirror=Path(mirror) if mirror else None)
        terraform.init(backend_config=None)
        state, plan = f"-state={work / 'policies.tfstate'}", str(work / "rest.tfplan")
        _terraform(
            terraform,
            "apply",
            "-input=false",
            "-auto-approve",
            state,
            *[f"-target={t}" for t in FIRST],
        )
        # Only the observer: the server module's load balancer and database are never applied.
        plan_observer = "-target=module.observer"
        _terraform(terraform, "plan", "-input=false", state, plan_observer, f"-out={plan}")
        shown = json.loads(_terraform(terraform, "show", "-json", plan))
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", **_keys())
        found = _role_policies(iam)
        changes = {c["address"]: c for c in shown["resource_changes"]}
        found["queue policy"] = json.loads(changes[QUEUE_POLICY]["change"]["after"]["policy"])
        yield Applied(iam, found)


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def policies(applied: Applied) -> dict[str, dict[str, Any]]:
    return applied.policies


CI_ROLE = "policies-ci"
ROLES = {
    "policies-execution",
    "policies-worker-task",
    "policies-flow-run-task",
    "policies-vpc-flow-logs",
    "policies-server-execution",
    "policies-server-task",
    CI_ROLE,
}


def test_every_policy_the_modules_write_passes_the_linter(
    policies: dict[str, dict[str, Any]],
) -> None:
    # The roles of modules/iam, network, prefect_server and ci, and the observer's queue policy.
    assert {name.split()[1] for name in policies if name.startswith("role ")} == ROLES
    # execution, worker, flow-run logs and storage, flow logs
    assert len([name for name in policies if " inline " in name]) == 5
    findings: list[Finding] = []
    for name, document in sorted(policies.items()):
        # The ci role's trust has two findings that are parliament's gaps (GitHub's condition
        # keys); tests/integration/test_ci_module.py lints its policies and expects exactly those.
        if name.split()[:2] != ["role", CI_ROLE]:
            findings.extend(lint(name, document))
    assert not findings, "\n".join(str(finding) for finding in findings)


def test_every_role_of_every_module_carries_the_boundary(applied: Applied) -> None:
    # GetRole, not ListRoles: IAM's ListRoles leaves PermissionsBoundary out.
    roles = {role["RoleName"] for role in applied.iam.list_roles()["Roles"]}
    assert roles == ROLES
    for name in sorted(roles):
        role = applied.iam.get_role(RoleName=name)["Role"]
        assert role.get("PermissionsBoundary") == {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": BOUNDARY,
        }, name
