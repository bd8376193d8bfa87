"""Service-linked roles as AWS makes them (tests/unit/local/test_moto_service_linked_roles.py).

- CreateServiceLinkedRole: AWS names each service's role its own way (AWSServiceRoleForECS,
  ...ForElasticLoadBalancing, ...ForRDS, ...ForApplicationAutoScaling_ECSService); moto
  derives a name from the service name (AWSServiceRoleForecs, ...Forelasticloadbalancing,
  ...Forrds, ...ForApplicationAutoScaling_Ecs), so a role created through the API is not found
  by its AWS name. A second create of a role that exists: AWS answers InvalidInput ("has been
  taken in this account"), moto EntityAlreadyExists.
- First use: AWS creates a service's role when the caller's first ECS CreateCluster or
  CreateService, ELBv2 CreateLoadBalancer, RDS CreateDBInstance or ECS RegisterScalableTarget
  needs it (for a caller that may create it; otherwise the call fails). moto never creates one
  and never needs one, so an account's roles on the emulator would depend on whether bootstrap
  made them; with this patch they are there after first use, as on AWS.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.responses import ActionResult
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.responses import ELBV2Response
from moto.iam.exceptions import InvalidInput
from moto.iam.models import IAMBackend, Role, iam_backends
from moto.rds.responses import RDSResponse

from bootstrap_local.aws_like.limits import Respond, wrap

# AWS's role name for each service name (IAM User Guide, "AWS services that work with IAM").
AWS_NAMES = {
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "rds.amazonaws.com": "AWSServiceRoleForRDS",
    "ecs.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_ECSService"
    ),
}
# The first use of each service that makes AWS create its role: (response class, action).
FIRST_USE: dict[tuple[type, str], str] = {
    (EC2ContainerServiceResponse, "create_cluster"): "ecs.amazonaws.com",
    (EC2ContainerServiceResponse, "create_service"): "ecs.amazonaws.com",
    (ELBV2Response, "create_load_balancer"): "elasticloadbalancing.amazonaws.com",
    (RDSResponse, "create_db_instance"): "rds.amazonaws.com",
    (ApplicationAutoScalingResponse, "register_scalable_target"): (
        "ecs.application-autoscaling.amazonaws.com"
    ),
}
CreateLinkedRole = Callable[[IAMBackend, str, str, str], Role]


def _has_role(backend: IAMBackend, name: str) -> bool:
    return any(role.name == name for role in backend.get_roles())


def _named_like_aws(create: CreateLinkedRole) -> CreateLinkedRole:
    @functools.wraps(create)
    def create_service_linked_role(
        backend: IAMBackend, service_name: str, description: str, suffix: str
    ) -> Role:
        name = AWS_NAMES.get(service_name)
        if name is None:  # a service the product does not use: moto's naming stands
            return create(backend, service_name, description, suffix)
        name = f"{name}_{suffix}" if suffix else name
        if _has_role(backend, name):
            raise InvalidInput(
                f"Service role name {name} has been taken in this account, please try a "
                "different suffix."
            )
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": ["sts:AssumeRole"],
                    "Effect": "Allow",
                    "Principal": {"Service": [service_name]},
                }
            ],
        }
        return backend.create_role(
            name,
            json.dumps(trust),
            f"/aws-service-role/{service_name}/",
            permissions_boundary=None,
            description=description,
            tags=[],
            max_session_duration="3600",
            linked_service=service_name,
        )

    return create_service_linked_role


def _creating_on_first_use(service_name: str) -> Callable[[Respond], Respond]:
    def make(respond: Respond) -> Respond:
        @functools.wraps(respond)
        def first_use(response: Any) -> ActionResult:
            backend: IAMBackend = iam_backends[response.current_account][response.partition]
            if not _has_role(backend, AWS_NAMES[service_name]):
                backend.create_service_linked_role(service_name, "", "")
            return respond(response)

        return first_use

    return make


def service_linked_roles_like_aws() -> None:
    """AWS's role names, and each role created on its service's first use (see the module's
    docstring); the naming first, which the first use calls."""
    naming: Any = _named_like_aws  # a backend method, not an action's response: same wrapping
    wrap(IAMBackend, "create_service_linked_role", "names", naming)
    for (cls, action), service_name in FIRST_USE.items():
        wrap(cls, action, "service-linked role", _creating_on_first_use(service_name))
