"""The service-linked roles the stacks need, found in preflight and created before any other
change (issue 23).

A fresh account has no AWSServiceRoleForECS (nor the load balancer's, the database's or
Application Auto Scaling's role). AWS creates one when a service is first used, but only for a
caller that may `iam:CreateServiceLinkedRole`; for any other the first cluster, load balancer
or database fails halfway through an apply ("Unable to assume the service linked role").
Bootstrap finds the missing ones while it only checks (GetRole), and creates them as its first
change, so a caller who may not gets one message naming the roles an admin must create.

The roles belong to the account, not to an environment: teardown never deletes them (other
environments and other workloads use them).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.safety.preflight import PreflightError

DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


class ServiceLinkedRole(NamedTuple):
    service: str  # the AWSServiceName that creates it
    name: str  # AWS's name for it
    used_by: str  # what of ours needs it, for messages

    def arn(self, account_id: str, partition: str = "aws") -> str:
        role = f"role/aws-service-role/{self.service}/{self.name}"
        return f"arn:{partition}:iam::{account_id}:{role}"

    @property
    def command(self) -> str:
        return f"aws iam create-service-linked-role --aws-service-name {self.service}"


ECS = ServiceLinkedRole("ecs.amazonaws.com", "AWSServiceRoleForECS", "the ECS cluster")
LOAD_BALANCING = ServiceLinkedRole(
    "elasticloadbalancing.amazonaws.com",
    "AWSServiceRoleForElasticLoadBalancing",
    "the Prefect server's load balancer",
)
RDS = ServiceLinkedRole(
    "rds.amazonaws.com", "AWSServiceRoleForRDS", "the Prefect server's database"
)
ECS_AUTOSCALING = ServiceLinkedRole(
    "ecs.application-autoscaling.amazonaws.com",
    "AWSServiceRoleForApplicationAutoScaling_ECSService",
    "the worker service's autoscaling",
)
# Every role any environment may need: what the operator policy grants.
ALL = (ECS, LOAD_BALANCING, RDS, ECS_AUTOSCALING)


class ServiceLinkedRoleError(BootstrapError):
    """A service-linked role the stacks need is missing and could not be created."""


def needed(settings: BootstrapSettings) -> tuple[ServiceLinkedRole, ...]:
    """The roles this environment's stacks need: the platform's cluster always; the server
    stack's load balancer and database with `prefect_server = "aws"`; Application Auto Scaling
    when the worker stack makes a scalable target (modules/worker_service: autoscaling on and
    at least one worker)."""
    roles = [ECS]
    if settings.prefect_server == "aws":
        roles += [LOAD_BALANCING, RDS]
    if resolve(settings).autoscaling and settings.worker_count > 0:
        roles.append(ECS_AUTOSCALING)
    return tuple(roles)


def _error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def _exists(settings: BootstrapSettings, role: ServiceLinkedRole) -> bool:
    try:
        aws.client(settings, "iam").get_role(RoleName=role.name)
    except ClientError as exc:
        if _error(exc)[0] == "NoSuchEntity":
            return False
        raise
    return True


def missing(settings: BootstrapSettings, account_id: str) -> list[ServiceLinkedRole]:
    """The needed roles the account lacks. Only reads (iam:GetRole)."""
    absent = []
    for role in needed(settings):
        try:
            if not _exists(settings, role):
                absent.append(role)
        except (ClientError, BotoCoreError) as exc:
            raise PreflightError(
                f"cannot look up the service-linked role {role.name} ({exc}); the identity "
                f"needs iam:GetRole on {role.arn(account_id, aws.partition(settings.aws_region))} "
                "(the operator policy grants it)"
            ) from exc
    return absent


def create(
    settings: BootstrapSettings,
    roles: list[ServiceLinkedRole],
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> list[str]:
    """Create `roles`; return the names created, logging one line each. A role another run
    created meanwhile counts as there. Roles the identity may not create end the run with one
    message naming each and the command an admin runs for it."""
    iam = aws.client(settings, "iam")
    created: list[str] = []
    denied: list[ServiceLinkedRole] = []
    cause: ClientError | None = None
    for role in roles:
        try:
            iam.create_service_linked_role(AWSServiceName=role.service)
        except ClientError as exc:
            code, message = _error(exc)
            if code in DENIED:
                denied.append(role)
                cause = cause or exc
                continue
            # AWS answers InvalidInput ("has been taken") for a role that exists: made by
            # another run since preflight looked.
            if _exists(settings, role):
                continue
            raise ServiceLinkedRoleError(
                f"cannot create the service-linked role {role.name} ({code}: {message})"
            ) from exc
        logger.info("Created the service-linked role %s (%s needs it)", role.name, role.used_by)
        created.append(role.name)
    if denied:
        raise ServiceLinkedRoleError(denial(denied, created)) from cause
    return created


def denial(roles: list[ServiceLinkedRole], created: list[str]) -> str:
    """What to ask the account's admin for, once per account."""
    lines = [
        f"this AWS account has no {', '.join(role.name for role in roles)}, and the AWS "
        "identity may not create service-linked roles (iam:CreateServiceLinkedRole denied). "
        "Ask an admin of the account to create them once (each is the account's, for every "
        "environment):"
    ]
    lines += [f"  {role.command}    # {role.name}, for {role.used_by}" for role in roles]
    lines.append(
        "or to grant iam:CreateServiceLinkedRole for these services (the operator policy "
        "does: `bootstrap-flows operator-policy <env>`); then run bootstrap again."
    )
    made = f" (service-linked roles created: {', '.join(created)})" if created else ""
    lines.append(f"Nothing else was changed{made}.")
    return "\n".join(lines)
