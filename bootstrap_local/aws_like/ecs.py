"""ECS as AWS answers it where teardown's drain and receipt depend on it
(tests/unit/local/test_moto_ecs.py).

- ListTaskDefinitionFamilies with `status`: AWS lists with ACTIVE only the families that hold
  an ACTIVE revision (INACTIVE: only those that hold none; neither: all). moto 5.2.6 ignores
  `status`, so a family whose every revision was deregistered still shows as ACTIVE.
- Pages: ListTaskDefinitionFamilies, ListTaskDefinitions and ListTasks answer at most 100
  items (`maxResults`, 1 to 100) with a nextToken; moto answers everything at once.
- Batch limits: DescribeTasks takes at most 100 tasks and RunTask a `count` of at most 10
  (InvalidParameterException, with AWS's messages); moto takes any number.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.responses import EC2ContainerServiceResponse

from bootstrap_local.aws_like.limits import Respond, at_most, paged, wrap

# Each list action and the key of its list in the answer; AWS's page is 100 for all three.
PAGED = {
    "list_task_definition_families": "families",
    "list_task_definitions": "taskDefinitionArns",
    "list_tasks": "taskArns",
}
PAGE = 100
DESCRIBE_TASKS_MOST = 100
RUN_TASK_MOST = 10


def _has_status(revisions: dict[int, Any], status: str) -> bool:
    active = any(revision.status == "ACTIVE" for revision in revisions.values())
    return {"ACTIVE": active, "INACTIVE": not active}.get(status, True)


def _families_by_status(respond: Respond) -> Respond:
    """ListTaskDefinitionFamilies filtered by `familyPrefix` and `status` as AWS does."""

    @functools.wraps(respond)
    def list_task_definition_families(response: Any) -> ActionResult:
        prefix = response._get_param("familyPrefix") or ""
        status = response._get_param("status") or "ALL"
        if status not in ("ACTIVE", "INACTIVE", "ALL"):
            raise InvalidParameterException(f"Invalid status: {status!r}")
        definitions: dict[str, dict[int, Any]] = response.ecs_backend.task_definitions
        families = [
            family
            for family, revisions in definitions.items()
            if family.startswith(prefix) and _has_status(revisions, status)
        ]
        return ActionResult({"families": families})

    return list_task_definition_families


def ecs_like_aws() -> None:
    """Every patch of the module's docstring, the status filter under the pages (it answers
    the whole list, which the pages then cut)."""
    wrap(
        EC2ContainerServiceResponse, "list_task_definition_families", "status", _families_by_status
    )
    for action, key in PAGED.items():
        wrap(
            EC2ContainerServiceResponse,
            action,
            "pages",
            functools.partial(
                paged, key=key, default=PAGE, most=PAGE, refuse=InvalidParameterException
            ),
        )
    wrap(
        EC2ContainerServiceResponse,
        "describe_tasks",
        "batch",
        lambda respond: at_most(
            respond,
            "tasks",
            DESCRIBE_TASKS_MOST,
            InvalidParameterException,
            f"taskIds can have at most {DESCRIBE_TASKS_MOST} items.",
        ),
    )
    wrap(
        EC2ContainerServiceResponse,
        "run_task",
        "batch",
        lambda respond: at_most(
            respond,
            "count",
            RUN_TASK_MOST,
            InvalidParameterException,
            f"Task count can not be greater than {RUN_TASK_MOST}",
        ),
    )
