"""ECS as AWS answers it where teardown's drain and receipt depend on it
(tests/unit/local/test_moto_ecs.py).

- ListTaskDefinitionFamilies with `status`: AWS lists with ACTIVE only the families that hold
  an ACTIVE revision (INACTIVE: only those that hold none; neither: all). moto 5.2.6 ignores
  `status`, so a family whose every revision was deregistered still shows as ACTIVE.
- Pages: ListTaskDefinitionFamilies, ListTaskDefinitions and ListTasks answer at most 100
  items (`maxResults`, 1 to 100) with a nextToken; moto answers everything at once.
- Batch limits: DescribeTasks takes at most 100 tasks and RunTask a `count` of at most 10
  (InvalidParameterException, with AWS's messages); moto takes any number.
- Deleted services drain: on AWS a deleted service is DRAINING until its tasks have stopped,
  then INACTIVE; CreateService with its name meanwhile fails ("Unable to Start a service that
  is still Draining."), and ListServices shows neither (botocore's DeleteService docs). moto
  5.2.6 marks it INACTIVE at once, lets the name be taken again at once and lists it. Here it
  drains for `BOOTSTRAP_LOCAL_ECS_DRAINING_SECONDS` (default 5): long enough that a caller who
  does not wait for INACTIVE meets it, short enough for the suite.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend
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
DRAINING_SECONDS = "BOOTSTRAP_LOCAL_ECS_DRAINING_SECONDS"
DRAINING_DEFAULT = 5.0
STILL_DRAINING = "Unable to Start a service that is still Draining."
# Where a draining service keeps the moment (time.monotonic) it becomes INACTIVE.
INACTIVE_AT = "aws_like_inactive_at"


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


def draining_seconds() -> float:
    """How long a deleted service stays DRAINING here (see the module's docstring)."""
    given = os.environ.get(DRAINING_SECONDS, str(DRAINING_DEFAULT))
    try:
        seconds = float(given)
    except ValueError as exc:
        raise ValueError(f"{DRAINING_SECONDS} must be a number of seconds, not {given!r}") from exc
    if not 0 <= seconds <= 600:
        raise ValueError(f"{DRAINING_SECONDS} must be between 0 and 600 seconds, not {given!r}")
    return seconds


def settle(backend: Any) -> None:
    """Mark INACTIVE the services whose drain is over: as if their last task had stopped."""
    now = time.monotonic()
    for service in backend.services.values():
        if service.status == "DRAINING" and getattr(service, INACTIVE_AT, now) <= now:
            service.status = "INACTIVE"


def _settled(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of the ECS backend, run after the drains that are over have ended."""

    @functools.wraps(method)
    def settled(backend: Any, *args: Any, **kwargs: Any) -> Any:
        settle(backend)
        return method(backend, *args, **kwargs)

    settled.__dict__["aws_like"] = True
    return settled


def _draining(delete: Callable[..., Any]) -> Callable[..., Any]:
    """DeleteService leaves the service DRAINING (moto: INACTIVE at once). A service already
    deleted keeps the status and the moment it had."""

    @functools.wraps(delete)
    def delete_service(backend: Any, cluster_name: str, service_name: str, force: bool) -> Any:
        settle(backend)
        before = backend._get_service(cluster_name, service_name).status
        service = delete(backend, cluster_name, service_name, force)
        if before == "ACTIVE":
            service.status = "DRAINING"
            setattr(service, INACTIVE_AT, time.monotonic() + draining_seconds())
        else:
            service.status = before
        return service

    delete_service.__dict__["aws_like"] = True
    return delete_service


def _refusing_draining_names(create: Callable[..., Any]) -> Callable[..., Any]:
    """CreateService refuses the name of a service that is still DRAINING, as AWS does."""

    @functools.wraps(create)
    def create_service(backend: Any, cluster_str: str, service_name: str, *a: Any, **k: Any) -> Any:
        settle(backend)
        cluster = backend._get_cluster(cluster_str)
        existing = backend.services.get(f"{cluster.name}:{service_name}")
        if existing is not None and existing.status == "DRAINING":
            raise InvalidParameterException(STILL_DRAINING)
        return create(backend, cluster_str, service_name, *a, **k)

    create_service.__dict__["aws_like"] = True
    return create_service


def _listing_active(list_services: Callable[..., Any]) -> Callable[..., Any]:
    """ListServices names ACTIVE services only: DRAINING and INACTIVE ones are described, not
    listed (moto lists them all)."""

    @functools.wraps(list_services)
    def listed(backend: Any, cluster_str: str, *args: Any, **kwargs: Any) -> list[str]:
        settle(backend)
        arns: list[str] = list_services(backend, cluster_str, *args, **kwargs)
        inactive = {s.arn for s in backend.services.values() if s.status != "ACTIVE"}
        return [arn for arn in arns if arn not in inactive]

    listed.__dict__["aws_like"] = True
    return listed


SERVICE_PATCHES: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "delete_service": _draining,
    "create_service": _refusing_draining_names,
    "list_services": _listing_active,
    "describe_services": _settled,
    "update_service": _settled,
}


def services_drain_like_aws() -> None:
    """Deleted services drain before they are INACTIVE (see the module's docstring)."""
    for name, make in SERVICE_PATCHES.items():
        current = getattr(EC2ContainerServiceBackend, name)
        if not getattr(current, "aws_like", False):
            setattr(EC2ContainerServiceBackend, name, make(current))


def ecs_like_aws() -> None:
    """Every patch of the module's docstring, the status filter under the pages (it answers
    the whole list, which the pages then cut). A bad draining time is refused here, at start."""
    draining_seconds()
    services_drain_like_aws()
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
