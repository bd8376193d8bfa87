"""The CI settings group: the optional GitHub Actions identity of the platform stack (its `ci`
module), trusted by one repository's branch or, in a staged pipeline, by one GitHub
environment, and for production allowed to pull the image it promotes from staging's ECR
repository. One group of `settings.BootstrapSettings` beside those of `groups`."""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, Field, model_validator

from bootstrap_flows.config import validation
from bootstrap_flows.config.groups import delegate

# The ci module's rules (modules/ci/variables.tf), so a value Terraform would refuse after the
# state bucket exists is refused before anything is made.
GITHUB_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
ECR_REPOSITORY_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9]+(?:[._/-][a-z0-9]+)*$"
)


def github_environment(name: str | None) -> str | None:
    if name is not None and not GITHUB_ENVIRONMENT.match(name):
        raise ValueError(
            f"{name!r} is not one GitHub environment name: letters, digits, '.', '_' and '-' "
            "(e.g. 'production'), no wildcard or space: the CI role trusts exactly that "
            "environment's jobs"
        )
    return name


def ecr_repository_arn(arn: str | None) -> str | None:
    if arn is not None and not ECR_REPOSITORY_ARN.match(arn):
        raise ValueError(
            f"{arn!r} is not the ARN of one ECR repository: "
            "arn:aws:ecr:<region>:<account>:repository/<name>, no wildcard (staging's, e.g. "
            "'arn:aws:ecr:eu-central-1:123456789012:repository/acme-staging-worker')"
        )
    return arn


class Ci(BaseModel):
    """The optional CI identity: the GitHub repository, and the branch or GitHub environment,
    whose workflows may push; for production, the repository it promotes images from."""

    ci_github_repository: str | None = Field(
        None,
        description="GitHub repository (`owner/repo`) whose workflows may push flow images and "
        "code (the platform's `ci` role, trusted through GitHub's OIDC provider). Unset: no role.",
    )
    ci_github_branch: str = Field(
        "main", description="The one branch of that repository whose workflows may assume it."
    )
    ci_github_environment: str | None = Field(
        None,
        description="The GitHub environment whose jobs may assume the role instead of the "
        "branch (e.g. `staging`, `production`: the jobs of examples/github-actions/release.yml). "
        "Unset: pushes to the branch.",
    )
    ci_promote_from_repository_arn: str | None = Field(
        None,
        description="ECR repository the role may also pull from, read only: staging's, for a "
        "production role that promotes the image that passed there. Unset: none.",
    )
    ci_oidc_provider_arn: str | None = Field(
        None,
        description="The account's GitHub OIDC provider, when one exists already (an account "
        "holds one per URL). Unset: the platform stack creates it.",
    )

    _repository = delegate("ci_github_repository", check=validation.github_repository)
    _branch = delegate("ci_github_branch", check=validation.git_branch)
    _environment = delegate("ci_github_environment", check=github_environment)
    _promote_from = delegate("ci_promote_from_repository_arn", check=ecr_repository_arn)
    _oidc_provider = delegate("ci_oidc_provider_arn", check=validation.github_oidc_provider_arn)

    @model_validator(mode="after")
    def _for_a_role(self) -> Self:
        """The role's shape without a role: nothing would use it, so it is a mistake."""
        if self.ci_github_repository is None:
            given = [
                f"{name} [BOOTSTRAP_{name.upper()}]"
                for name in ("ci_github_environment", "ci_promote_from_repository_arn")
                if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    f"{' and '.join(given)}: shape the CI role, which only "
                    "ci_github_repository [BOOTSTRAP_CI_GITHUB_REPOSITORY] adds; set it too "
                    "(e.g. 'acme/flows'), or unset these"
                )
        return self
