"""Task definitions by family prefix: the one rule the drain deregisters by and the receipt
lists by.

ListTaskDefinitions' `familyPrefix` is a whole family name (botocore's ECS docs: "The full
family name"), so listing with the worker's prefix finds nothing. Families are found by prefix
with ListTaskDefinitionFamilies, then each family's ACTIVE revisions with ListTaskDefinitions.
Every page of both is read: AWS answers at most 100 items per call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ecs.client import ECSClient

# prefect-aws's ECS worker names the task definitions it registers
# `prefect_<pool>_<deployment id>` (or `_<flow id>` for a run without a deployment):
# prefect_aws/workers/ecs_worker.py, `_get_or_generate_family`.
WORKER_FAMILY = "prefect_{pool}_"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def worker_family(pool: str) -> Callable[[str], bool]:
    """Whether a family is one the worker registered for `pool`: its prefix and then an id, so
    not the families of a pool whose name only begins the same (`dev` and `dev_2`)."""
    pattern = re.compile(re.escape(WORKER_FAMILY.format(pool=pool)) + _UUID)
    return lambda family: pattern.fullmatch(family) is not None


def active_revisions(
    ecs: ECSClient, prefix: str, wanted: Callable[[str], bool] = lambda _: True
) -> list[str]:
    """The ARNs of every ACTIVE revision of every family named `prefix`... that is `wanted`."""
    families = [
        family
        for page in ecs.get_paginator("list_task_definition_families").paginate(
            familyPrefix=prefix, status="ACTIVE"
        )
        for family in page["families"]
        if wanted(family)
    ]
    return [
        arn
        for family in families
        for page in ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=family, status="ACTIVE"
        )
        for arn in page["taskDefinitionArns"]
    ]


def worker_revisions(ecs: ECSClient, pool: str) -> list[str]:
    """Every ACTIVE task definition revision the ECS worker registered for `pool`."""
    return active_revisions(ecs, WORKER_FAMILY.format(pool=pool), worker_family(pool))
