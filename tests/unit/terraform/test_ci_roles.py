"""The ci module's two roles of the staged pipeline (examples/github-actions/release.yml), as
Terraform renders them: staging's (github_environment "staging") and production's
(github_environment "production", promote_from_repository_arn = staging's repository).

Rendered by a real `terraform plan` of a root that calls the module twice, with the provider
offline (no AWS: the policy documents and the partition are computed locally), and read from
the plan's JSON. The policies as IAM holds them after an apply: tests/integration/test_ci_module.py
(the branch-trusted role).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_local import provider_mirror
from tests.support.hcl import evaluate_all

MODULE = PROJECT_ROOT / "infrastructure" / "terraform" / "modules" / "ci"
ACCOUNT = "123456789012"
REGION = "eu-central-1"
STAGING_REPO = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/acme-staging-worker"
PRODUCTION_REPO = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/acme-production-worker"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
PUSH = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
# An init and a plan: 10-40 s by the machine's load.
PLANNED = pytest.mark.slow

ROOT = """\
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "%(region)s"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

module "staging" {
  source             = "%(module)s"
  name               = "acme-staging-ci"
  github_repository  = "acme/flows"
  github_branch      = "main"
  github_environment = "staging"
  ecr_repository_arn = "%(staging)s"
  code_bucket_arn    = "arn:aws:s3:::acme-staging-code"
  oidc_provider_arn  = "%(provider)s"
}

module "production" {
  source                      = "%(module)s"
  name                        = "acme-production-ci"
  github_repository           = "acme/flows"
  github_branch               = "main"
  github_environment          = "production"
  ecr_repository_arn          = "%(production)s"
  code_bucket_arn             = "arn:aws:s3:::acme-production-code"
  promote_from_repository_arn = "%(staging)s"
  oidc_provider_arn           = "%(provider)s"
}
"""


def _terraform(work: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}
    done = subprocess.run(
        ["terraform", *args], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"terraform {args[0]}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each planned resource's values, by address."""
    work = tmp_path_factory.mktemp("ci-roles")
    values = {
        "region": REGION,
        "module": MODULE,
        "staging": STAGING_REPO,
        "production": PRODUCTION_REPO,
        "provider": PROVIDER,
    }
    (work / "main.tf").write_text(ROOT % values)
    given = os.environ.get(provider_mirror.VARIABLE)
    mirror = Path(given) if given else provider_mirror.find()
    _terraform(work, "init", "-input=false", *([f"-plugin-dir={mirror}"] if mirror else []))
    _terraform(work, "plan", "-input=false", "-refresh=false", "-out=plan")
    plan = json.loads(_terraform(work, "show", "-json", "plan"))
    return {c["address"]: c["change"]["after"] for c in plan["resource_changes"]}


def _statements(planned: dict[str, dict[str, Any]], role: str) -> dict[str, tuple[Any, Any]]:
    policy = json.loads(planned[f"module.{role}.aws_iam_role_policy.this"]["policy"])
    return {
        s["Sid"]: (
            sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]]),
            s["Resource"],
        )
        for s in policy["Statement"]
        if s["Effect"] == "Allow"
    }


@PLANNED
def test_each_role_trusts_only_its_github_environment(planned: dict[str, dict[str, Any]]) -> None:
    for role in ("staging", "production"):
        trust = json.loads(planned[f"module.{role}.aws_iam_role.this"]["assume_role_policy"])
        (statement,) = trust["Statement"]
        assert statement["Sid"] == "GitHubActionsOfOneEnvironment"
        assert statement["Principal"] == {"Federated": PROVIDER}
        assert statement["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": f"repo:acme/flows:environment:{role}",
            }
        }


@PLANNED
def test_staging_may_push_to_its_repository_and_read_nothing_else(
    planned: dict[str, dict[str, Any]],
) -> None:
    assert _statements(planned, "staging") == {
        "EcrLogin": (["ecr:GetAuthorizationToken"], "*"),
        "EcrPullWorkerImage": (PULL, STAGING_REPO),
        "EcrPushFlowImage": (PUSH, STAGING_REPO),
        "PushFlowCode": (["s3:PutObject"], "arn:aws:s3:::acme-staging-code/*"),
    }


@PLANNED
def test_production_may_only_read_stagings_repository(planned: dict[str, dict[str, Any]]) -> None:
    statements = _statements(planned, "production")
    # Staging's repository: read, in one statement of its own; every write is production's.
    assert statements.pop("EcrPullPromotedImage") == (PULL, STAGING_REPO)
    assert [sid for sid, (_, resource) in statements.items() if STAGING_REPO in resource] == []
    assert statements["EcrPushFlowImage"] == (PUSH, PRODUCTION_REPO)
    assert set(statements) == {
        "EcrLogin",
        "EcrPullWorkerImage",
        "EcrPushFlowImage",
        "PushFlowCode",
    }


def _accepted(values: dict[str, str | None]) -> bool:
    """Whether every validation of the two new inputs holds for these values (Terraform's
    `console` evaluating the conditions as variables.tf writes them)."""
    text = (MODULE / "variables.tf").read_text()
    found = [
        line.split("=", 1)[1].strip()
        for line in text.splitlines()
        if line.strip().startswith("condition")
        and ("var.github_environment" in line or "var.promote_from_repository_arn" in line)
    ]
    assert len(found) == 3
    for name, value in values.items():
        literal = "null" if value is None else json.dumps(value)
        found = [condition.replace(f"var.{name}", literal) for condition in found]
    return all(evaluate_all(found))


@pytest.mark.parametrize(
    ("environment", "source", "accepted"),
    [
        (None, None, True),
        ("production", STAGING_REPO, True),
        ("prod*", None, False),
        ("", None, False),
        ("my env", None, False),
        (None, PRODUCTION_REPO, False),  # its own repository
        (None, f"{STAGING_REPO}*", False),
        (None, "arn:aws:s3:::acme-staging-code", False),
    ],
)
def test_the_new_inputs_are_validated(
    environment: str | None, source: str | None, accepted: bool
) -> None:
    values = {
        "github_environment": environment,
        "promote_from_repository_arn": source,
        "ecr_repository_arn": PRODUCTION_REPO,
    }
    assert _accepted(values) is accepted
