"""The staged pipeline's two CI roles (modules/ci), made with Terraform on the session's emulated
AWS for the pipeline test (tests/integration/test_environments.py), and their check against the
calls the pipeline's jobs made, both directions (tests/support/iam_grants.py):

- every call a job made with its role's credentials is allowed by that role's policies as IAM
  holds them: the AWS API calls the emulator recorded (signed with the keys its STS handed the
  job), and the registry requests of the job's `docker` commands (the local registry's log,
  tests/support/registry_calls.py), which ECR would authorize as ECR actions;
- every action a role's policy grants was used, or modules/ci/main.tf says when it is needed
  (`# unrecorded <action>: <when>`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_flows.terraform.runner import Terraform
from tests.support.aws_calls import Call, recorded_calls
from tests.support.iam_grants import Findings, check_calls
from tests.support.registry_calls import registry_calls

MODULE = PROJECT_ROOT / "infrastructure" / "terraform" / "modules" / "ci"
# The module's `oidc_provider_arn`: an existing provider's ARN, so the module makes none (an
# account holds one per URL, and tests/integration/test_ci_module.py makes the session's).
PROVIDER = "arn:aws:iam::%(account)s:oidc-provider/token.actions.githubusercontent.com"

ROOT = """\
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region = "%(region)s"
}

module "staging" {
  source             = "%(module)s"
  name               = "pipeline-staging-ci"
  github_repository  = "acme/flows"
  github_branch      = "main"
  github_environment = "staging"
  ecr_repository_arn = "%(staging_repository)s"
  code_bucket_arn    = "arn:aws:s3:::%(staging_bucket)s"
  oidc_provider_arn  = "%(provider)s"
}

module "production" {
  source                      = "%(module)s"
  name                        = "pipeline-production-ci"
  github_repository           = "acme/flows"
  github_branch               = "main"
  github_environment          = "production"
  ecr_repository_arn          = "%(production_repository)s"
  code_bucket_arn             = "arn:aws:s3:::%(production_bucket)s"
  promote_from_repository_arn = "%(staging_repository)s"
  oidc_provider_arn           = "%(provider)s"
}

output "staging" {
  value = module.staging.role_arn
}

output "production" {
  value = module.production.role_arn
}
"""


@dataclass(frozen=True)
class Place:
    """Where one environment's CI role may push: its ECR repository and code bucket."""

    repository: str
    bucket: str


@contextmanager
def ci_roles(
    env: dict[str, str], region: str, account: str, work: Path, staging: Place, production: Place
) -> Iterator[dict[str, str]]:
    """Both roles applied for the block; yields {"staging": ARN, "production": ARN}."""
    root = work / "ci-roles"
    root.mkdir()
    arn = f"arn:aws:ecr:{region}:{account}:repository/%s"
    (root / "main.tf").write_text(
        ROOT
        % {
            "region": region,
            "module": MODULE,
            "provider": PROVIDER % {"account": account},
            "staging_repository": arn % staging.repository,
            "staging_bucket": staging.bucket,
            "production_repository": arn % production.repository,
            "production_bucket": production.bucket,
        }
    )
    mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
    terraform = Terraform(
        stack_dir=root,
        work_dir=work / "ci-roles-work",
        env=env | {"AWS_MAX_ATTEMPTS": "2"},
        provider_mirror=Path(mirror) if mirror else None,
    )
    terraform.init(backend_config=None)
    var_file = work / "ci-roles.json"
    var_file.write_text(json.dumps({}))
    outputs = terraform.apply(terraform.plan(var_file=var_file))
    try:
        yield {name: str(outputs[name]) for name in ("staging", "production")}
    finally:
        terraform.apply(terraform.plan(var_file=var_file, destroy=True))


@dataclass
class JobCalls:
    """What the pipeline's jobs did with their roles: the keys each was handed, and where in
    the registry's log each job's window starts (a role ARN) and ends (None)."""

    registry_log: Path
    keys: dict[str, str] = field(default_factory=dict)  # access key id -> role ARN
    windows: list[tuple[str | None, int]] = field(default_factory=list)

    def mark(self, role: str | None) -> None:
        size = self.registry_log.stat().st_size if self.registry_log.exists() else 0
        self.windows.append((role, size))

    def by_role(self, endpoint: str, region: str) -> dict[str, list[Call]]:
        found: dict[str, list[Call]] = {role: [] for role in set(self.keys.values())}
        for call in recorded_calls(endpoint):
            if call.key_id in self.keys:
                found[self.keys[call.key_id]].append(call)
        for (role, start), (_, end) in zip(self.windows, self.windows[1:], strict=False):
            if role is not None:
                found[role] += registry_calls(self.registry_log, start, end, region)
        return found

    def check(self, iam: Any, endpoint: str, region: str, roles: list[str]) -> Findings:
        return check_calls(iam, self.by_role(endpoint, region), [MODULE / "main.tf"], roles)
