"""The ci module on the embedded default: apply, plan again with no changes, the trust and
permission policies exactly as IAM holds them, linted and evaluated, refused inputs, destroy.

Through `examples/ci` (the ecr module and the ci module), on the session's emulated AWS.
Terraform signs with the operator's key, which the session's emulator records: after the
destroy, each call of this module must be allowed by the operator policy of the environment
whose names the example uses (prefix "example", environment "ci": `example-ci-*`), the GitHub
OIDC provider included (issue 23).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.terraform.platform_stack import platform_variables
from bootstrap_flows.terraform.runner import PlanResult, Terraform, TerraformError
from bootstrap_local.iam_policy import Request, decide
from bootstrap_local.settings import load_local_settings
from bootstrap_local.stack import operator_calls_file
from tests.support import operator_grants
from tests.support.iam_lint import Finding, as_identity_policy, lint

pytestmark = pytest.mark.slow

EXAMPLE = PROJECT_ROOT / "infrastructure" / "terraform" / "examples" / "ci"
ROLE, POLICY, REPOSITORY, BUCKET = (
    "example-ci-github",
    "push-flow-images-and-code",
    "example-ci-worker",
    "example-ci-flow-code",
)
GITHUB = "token.actions.githubusercontent.com"
SUBJECT = "repo:acme/flows:ref:refs/heads/main"
PROVIDER = "module.ci.aws_iam_openid_connect_provider.github[0]"
# The names above are an environment's as bootstrap scopes them: <prefix>-<environment>-*.
ENVIRONMENT = {"name_prefix": "example", "environment": "ci"}


@dataclass(frozen=True)
class Applied:
    terraform: Terraform
    region: str
    account: str
    work: Path
    outputs: dict[str, Any] = field(default_factory=dict)

    def plan(self, variables: dict[str, Any] | None = None, destroy: bool = False) -> PlanResult:
        var_file = self.work / "vars.json"
        var_file.write_text(json.dumps({"region": self.region} | (variables or {})))
        return self.terraform.plan(var_file=var_file, destroy=destroy)

    def changes(self, **variables: Any) -> list[tuple[str, str]]:
        """(address, action) of every change a plan with these variables wants (data sources
        read while planning are not changes)."""
        plan = self.plan(variables)
        return [(c.address, c.action) for c in plan.changes if c.action != "read"]

    @property
    def repository_arn(self) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{REPOSITORY}"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{ROLE}"


@pytest.fixture(scope="module")
def applied(
    local_stack: BootstrapSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Applied]:
    work = tmp_path_factory.mktemp("ci-module")
    recording = operator_calls_file(load_local_settings())
    mark = recording.stat().st_size if recording.exists() else 0
    # A copy of the tree: the example's local state must not land in the checkout.
    tree = work / "terraform"
    shutil.copytree(EXAMPLE.parents[1], tree, ignore=shutil.ignore_patterns(".terraform*"))
    mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
    terraform = Terraform(
        stack_dir=tree / "examples" / EXAMPLE.name,
        work_dir=work / "work",
        env=aws.aws_environment(local_stack) | {"AWS_MAX_ATTEMPTS": "2"},
        provider_mirror=Path(mirror) if mirror else None,
    )
    terraform.init(backend_config=None)
    account = aws.client(local_stack, "sts").get_caller_identity()["Account"]
    stack = Applied(terraform, local_stack.aws_region, account, work)
    plan = stack.plan()
    # The ECR repository with its lifecycle policy; the OIDC provider, the role, its policy
    # and the two exclusive-policy guards.
    assert (plan.counts["add"], plan.counts["change"], plan.counts["remove"]) == (7, 0, 0)
    yield replace(stack, outputs=terraform.apply(plan))

    terraform.apply(stack.plan(destroy=True))
    operator_policy_allows_every_call(local_stack, recording, mark)
    iam = aws.client(local_stack, "iam")
    assert ROLE not in {role["RoleName"] for role in iam.list_roles()["Roles"]}
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert not [p for p in providers if p.get("Arn", "").endswith(f"/{GITHUB}")]


def operator_policy_allows_every_call(
    local_stack: BootstrapSettings, recording: Path, mark: int
) -> None:
    """This module's operator calls (init, plans, apply, reads, destroy) against the policy of
    an environment with BOOTSTRAP_CI_GITHUB_REPOSITORY set: each allowed, and each grant the
    README says this module records was made."""
    calls = operator_grants.module_calls(recording, mark)
    settings = local_stack.model_copy(update={**ENVIRONMENT, "ci_github_repository": "acme/flows"})
    findings = operator_grants.check(calls, settings)
    assert findings.denied == [], findings.report()
    unseen = operator_grants.recorded_in(Path(__file__).name) - findings.seen
    assert not unseen, f"the README says this module records {sorted(unseen)}"


@pytest.fixture(scope="module")
def iam(local_stack: BootstrapSettings) -> Any:
    return aws.client(local_stack, "iam")


def trust_policy(iam: Any) -> dict[str, Any]:
    document = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(unquote(document)) if isinstance(document, str) else dict(document)


def permission_policy(iam: Any) -> dict[str, Any]:
    return dict(iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"])


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """The same policy whatever the order of its actions and resources (IAM keeps a set)."""

    def statement(s: dict[str, Any]) -> dict[str, Any]:
        return {
            k: sorted(v if isinstance(v, list) else [v]) if k in ("Action", "Resource") else v
            for k, v in s.items()
        }

    return {**document, "Statement": [statement(s) for s in document["Statement"]]}


def test_outputs_name_the_role_the_provider_and_the_pinned_subject(applied: Applied) -> None:
    assert applied.outputs["role_arn"] == applied.role_arn
    assert applied.outputs["oidc_provider_arn"] == (
        f"arn:aws:iam::{applied.account}:oidc-provider/{GITHUB}"
    )
    assert applied.outputs["oidc_subject"] == SUBJECT
    assert applied.outputs["repository_arn"] == applied.repository_arn


def test_a_second_plan_changes_nothing(applied: Applied) -> None:
    plan = applied.plan()
    assert not plan.has_changes, plan.changes


def test_the_provider_trusts_github_for_sts_only(applied: Applied, iam: Any) -> None:
    provider = iam.get_open_id_connect_provider(
        OpenIDConnectProviderArn=applied.outputs["oidc_provider_arn"]
    )
    assert (provider["Url"], provider["ClientIDList"]) == (GITHUB, ["sts.amazonaws.com"])


def test_the_trust_policy_is_pinned_to_the_repository_and_branch(
    applied: Applied, iam: Any
) -> None:
    assert trust_policy(iam) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActionsOfOneBranch",
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": applied.outputs["oidc_provider_arn"]},
                "Condition": {
                    "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": SUBJECT}
                },
            }
        ],
    }


def test_the_permission_policy_is_exactly_push_and_code(applied: Applied, iam: Any) -> None:
    code = f"arn:aws:s3:::{BUCKET}"
    push = ["BatchCheckLayerAvailability", "CompleteLayerUpload", "InitiateLayerUpload"]
    push += ["PutImage", "UploadLayerPart"]

    def allow(sid: str, actions: list[str], resource: str) -> dict[str, Any]:
        return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": [resource]}

    assert canonical(permission_policy(iam)) == {
        "Version": "2012-10-17",
        "Statement": [
            allow("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
            allow(
                "EcrPullWorkerImage",
                ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                applied.repository_arn,
            ),
            allow("EcrPushFlowImage", [f"ecr:{a}" for a in push], applied.repository_arn),
            allow("PushFlowCode", ["s3:PutObject"], f"{code}/*"),
        ],
    }
    # Nothing else on the role: one inline policy, no managed one.
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == [POLICY]
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []


def test_both_policies_pass_the_linter(applied: Applied, iam: Any) -> None:
    assert lint(f"role {ROLE} inline {POLICY}", permission_policy(iam)) == []
    trust = as_identity_policy(trust_policy(iam), applied.role_arn)
    # parliament's IAM data lists the web-identity keys of Cognito, Amazon, Facebook and Google
    # only; IAM accepts `<issuer>:aud` and `<issuer>:sub` for every OIDC provider. Those two are
    # the only findings, and each names GitHub's key: anything else fails here.
    assert lint(f"role {ROLE} trust", trust) == [
        Finding(
            f"role {ROLE} trust",
            "UNKNOWN_CONDITION_FOR_ACTION",
            f"Unknown condition {GITHUB}:{key} for action sts:AssumeRoleWithWebIdentity",
        )
        for key in ("aud", "sub")
    ]


PUSH_AND_PULL = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]


def requests(applied: Applied) -> tuple[list[Request], list[Request]]:
    """What a deploying workflow does (allowed), and what it must not be able to do."""
    repository, code = applied.repository_arn, f"arn:aws:s3:::{BUCKET}"
    flow_file = f"{code}/my-flows/flows/etl.py"
    allowed = [Request("ecr:GetAuthorizationToken", "*")]
    allowed += [Request(action, repository) for action in PUSH_AND_PULL]
    allowed += [Request("s3:PutObject", flow_file)]
    other_repository = repository.replace(REPOSITORY, "someone-elses-repository")
    denied = [
        Request("s3:PutObject", "arn:aws:s3:::another-bucket/my-flows/flows/etl.py"),
        Request("s3:PutObject", f"{code}-results/my-flows/result.json"),
        Request("s3:ListBucket", "arn:aws:s3:::another-bucket"),
        # push_to_s3 only writes: listing and reading the code are the flow runs' (their role).
        Request("s3:ListBucket", code),
        Request("s3:GetObject", flow_file),
        Request("s3:DeleteObject", flow_file),
        Request("s3:PutBucketPolicy", code),
        Request("s3:DeleteBucket", code),
        Request("ecr:PutImage", other_repository),
        Request("ecr:DeleteRepository", repository),
        Request("ecr:BatchDeleteImage", repository),
        Request("ecr:SetRepositoryPolicy", repository),
        Request("ecr:PutLifecyclePolicy", repository),
        Request("iam:PassRole", f"arn:aws:iam::{applied.account}:role/example-flow-run-task"),
        Request("sts:AssumeRole", f"arn:aws:iam::{applied.account}:role/admin"),
        Request("ecs:RunTask", f"arn:aws:ecs:{applied.region}:{applied.account}:task-definition/x"),
        Request("secretsmanager:GetSecretValue", "*"),
    ]
    return allowed, denied


def test_the_role_may_push_and_write_code_and_nothing_else(applied: Applied, iam: Any) -> None:
    policies = [permission_policy(iam)]
    allowed, denied = requests(applied)
    assert [r for r in allowed if not decide(policies, r)] == []
    assert [r for r in denied if decide(policies, r)] == []


@pytest.mark.parametrize(
    ("audience", "subject", "admitted"),
    [
        ("sts.amazonaws.com", SUBJECT, True),
        ("sts.amazonaws.com", "repo:acme/flows:ref:refs/heads/feature", False),
        ("sts.amazonaws.com", "repo:acme/flows:pull_request", False),
        ("sts.amazonaws.com", "repo:acme/flows:ref:refs/tags/v1.0.0", False),
        ("sts.amazonaws.com", "repo:acme/flows:environment:prod", False),
        ("sts.amazonaws.com", "repo:acme/flows-fork:ref:refs/heads/main", False),
        ("sts.amazonaws.com", "repo:ACME/flows:ref:refs/heads/main", False),
        ("https://github.com/acme", SUBJECT, False),
        ("sts.amazonaws.com", None, False),
    ],
)
def test_only_the_branch_of_the_repository_may_assume_the_role(
    applied: Applied, iam: Any, audience: str, subject: str | None, admitted: bool
) -> None:
    context = {f"{GITHUB}:aud": audience} | ({f"{GITHUB}:sub": subject} if subject else {})
    request = Request("sts:AssumeRoleWithWebIdentity", applied.role_arn, context)
    trust = as_identity_policy(trust_policy(iam), applied.role_arn)
    assert decide([trust], request) is admitted


def test_an_existing_provider_is_used_instead_of_a_second_one(applied: Applied) -> None:
    # The role keeps trusting the same provider; only the module's own provider would go.
    existing = applied.outputs["oidc_provider_arn"]
    assert applied.changes(oidc_provider_arn=existing) == [(PROVIDER, "delete")]


def test_a_repository_with_the_immutable_subject_is_trusted_by_its_ids(applied: Applied) -> None:
    # GitHub's immutable subject (repositories made on or after 2026-07-15): only the role's
    # trust (and description) change.
    changes = applied.changes(github_repository="acme@1234/flows@5678")
    assert changes == [("module.ci.aws_iam_role.this", "update")]
    trust = applied.terraform.show_json()["resource_changes"]
    (role,) = [c for c in trust if c["address"] == "module.ci.aws_iam_role.this"]
    document = json.loads(role["change"]["after"]["assume_role_policy"])
    condition = document["Statement"][0]["Condition"]["StringEquals"]
    assert condition[f"{GITHUB}:sub"] == "repo:acme@1234/flows@5678:ref:refs/heads/main"


# A repository and a branch refused in one plan (each plan costs the provider's start-up).
@pytest.mark.parametrize(
    ("repository", "branch", "repository_error", "branch_error"),
    [
        ("*", "*", "github_repository must not contain a wildcard", "github_branch must not"),
        ("", "", "github_repository is empty", "github_branch is empty"),
        ("acme/*", "release/*", "github_repository must not", "github_branch must not"),
        ("acme", "refs/heads/main", 'must be "<owner>/<repo>"', "must be a bare branch name"),
        ("acme@org/flows", "feat/../x", 'must be "<owner>/<repo>"', "must be a git branch name"),
    ],
)
def test_a_wildcard_or_empty_repository_or_branch_is_refused(
    applied: Applied, repository: str, branch: str, repository_error: str, branch_error: str
) -> None:
    with pytest.raises(TerraformError) as refused:
        applied.plan({"github_repository": repository, "github_branch": branch})
    # One readable error per input, the rule's own message.
    text = " ".join(str(refused.value).split())
    assert text.count("Invalid value for variable") == 2
    assert repository_error in text and branch_error in text


def test_the_platform_stack_adds_the_ci_role_only_when_a_repository_is_set(
    local_stack: BootstrapSettings, tmp_path: Path
) -> None:
    """The wiring: settings → platform variables → `module.ci[0]`, planned against the emulator
    (a copy of the stack with a local backend: nothing is applied), shaped as production's role
    of the staged pipeline: trusted by the GitHub environment, reading staging's repository."""
    tree = tmp_path / "terraform"
    shutil.copytree(EXAMPLE.parents[1], tree, ignore=shutil.ignore_patterns(".terraform*"))
    stack = tree / "stacks" / "platform"
    (stack / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
    terraform = Terraform(
        stack_dir=stack,
        work_dir=tmp_path / "work",
        env=aws.aws_environment(local_stack) | {"AWS_MAX_ATTEMPTS": "2"},
        provider_mirror=Path(mirror) if mirror else None,
    )
    terraform.init(backend_config={"path": str(tmp_path / "platform.tfstate")})
    account = aws.client(local_stack, "sts").get_caller_identity()["Account"]
    staging = f"arn:aws:ecr:{local_stack.aws_region}:{account}:repository/prefect-staging-worker"
    settings = local_stack.model_copy(
        update={
            "environment": "ciwire",
            "ci_github_repository": "acme/flows",
            "ci_github_environment": "production",
            "ci_promote_from_repository_arn": staging,
            # The account's provider, named: the trust is then known when planned.
            "ci_oidc_provider_arn": f"arn:aws:iam::{account}:oidc-provider/{GITHUB}",
        }
    )
    var_file = tmp_path / "vars.json"
    var_file.write_text(json.dumps(platform_variables(settings)))
    creates = {c.address for c in terraform.plan(var_file=var_file).changes if c.action == "create"}
    ci = {address for address in creates if address.startswith("module.ci[0].")}
    assert {"module.ci[0].aws_iam_role.this", "module.ci[0].aws_iam_role_policy.this"} <= ci
    assert "module.ci[0].aws_iam_openid_connect_provider.github[0]" not in ci  # named: reused
    after = {c["address"]: c["change"]["after"] for c in terraform.show_json()["resource_changes"]}
    role = after["module.ci[0].aws_iam_role.this"]
    subject = json.loads(role["assume_role_policy"])["Statement"][0]["Condition"]
    assert subject["StringEquals"][f"{GITHUB}:sub"] == "repo:acme/flows:environment:production"
    # The permission policy names the platform's own repository, unknown until applied; the
    # description says which shape the module took (promote: promote_from_repository_arn set).
    assert role["description"].endswith("environment production: promote flow images and code")
