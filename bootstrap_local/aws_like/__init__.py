"""moto 5.2.6 made to behave like AWS where the product depends on it: one module per
service, each patch idempotent, each with a unit test in tests/unit/local/ that shows stock
moto still has the gap. When such a test fails after a moto upgrade, moto does what AWS does
there: drop that patch and its tests.

The leniencies that remain are listed in the README ("Where the emulator is kinder than AWS").
"""

from __future__ import annotations

from collections.abc import Callable

from bootstrap_local.aws_like.ec2 import nat_gateways_like_aws, security_group_rules_like_aws
from bootstrap_local.aws_like.ecr import ecr_like_aws
from bootstrap_local.aws_like.ecs import ecs_like_aws
from bootstrap_local.aws_like.elbv2 import listener_certificates_like_aws
from bootstrap_local.aws_like.events import event_targets_like_aws
from bootstrap_local.aws_like.iam import iam_like_aws
from bootstrap_local.aws_like.rds import engine_versions_like_aws
from bootstrap_local.aws_like.route53 import delegation_sets_like_aws
from bootstrap_local.aws_like.s3 import bucket_policies_like_aws
from bootstrap_local.aws_like.secretsmanager import secrets_like_aws
from bootstrap_local.aws_like.service_linked_roles import service_linked_roles_like_aws
from bootstrap_local.aws_like.sqs import queues_like_aws

PATCHES: tuple[Callable[[], None], ...] = (
    nat_gateways_like_aws,
    security_group_rules_like_aws,
    bucket_policies_like_aws,
    queues_like_aws,
    event_targets_like_aws,
    engine_versions_like_aws,
    ecs_like_aws,
    ecr_like_aws,
    secrets_like_aws,
    iam_like_aws,
    service_linked_roles_like_aws,
    listener_certificates_like_aws,
    delegation_sets_like_aws,
)


def patch() -> None:
    """Make this process's moto behave like AWS where moto does not (idempotent)."""
    for one in PATCHES:
        one()
