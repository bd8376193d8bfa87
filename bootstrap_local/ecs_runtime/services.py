"""ECS services: each ACTIVE service keeps `desiredCount` tasks of its current task definition.

Missing tasks are started (RunTask with `group=service:<name>`, `startedBy=<name>`), extras
stopped, and a new task definition rolls out: once its tasks run, the old revision's stop. A
service whose tasks keep failing is throttled as ECS throttles it: its next start waits 2, 4,
... up to 60 s after each failure, and the count starts over after 5 quiet minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_local.ecs_runtime.clients import error_code
from bootstrap_local.ecs_runtime.emulator import EmulatedEcs
from bootstrap_local.ecs_runtime.tasks import ServiceKey, TaskRecord

logger = logging.getLogger("bootstrap_local.ecs_runtime")

MAX_BACKOFF = 60.0
BACKOFF_RESET = 300.0


# --- back-off (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """One service's failures so far; times are `time.monotonic()` seconds."""

    failures: int = 0
    not_before: float = 0.0
    last_failure: float = 0.0

    def after_failure(self, now: float) -> Backoff:
        """The state after a failure at `now`: the wait doubles, up to MAX_BACKOFF."""
        failures = 0 if now - self.last_failure > BACKOFF_RESET else self.failures
        failures += 1
        return Backoff(failures, now + min(MAX_BACKOFF, 2.0**failures), now)

    def allows_start(self, now: float) -> bool:
        return now >= self.not_before


class ServiceBackoff:
    """The back-off of every service, by (cluster ARN, service name)."""

    def __init__(self) -> None:
        self.state: dict[ServiceKey, Backoff] = {}

    def failed(self, key: ServiceKey, now: float) -> None:
        self.state[key] = self.state.get(key, Backoff()).after_failure(now)

    def allows_start(self, key: ServiceKey, now: float) -> bool:
        return self.state.get(key, Backoff()).allows_start(now)


# --- reconciliation ------------------------------------------------------------------------


def service_key(service: dict[str, Any]) -> ServiceKey:
    return (str(service["clusterArn"]), str(service["serviceName"]))


def run_task_request(service: dict[str, Any]) -> dict[str, Any]:
    """The RunTask call that starts one task of `service`, as ECS's scheduler would."""
    request: dict[str, Any] = {
        "cluster": service["clusterArn"],
        "taskDefinition": service["taskDefinition"],
        "count": 1,
        # moto's ListTasks ignores serviceName: startedBy finds a service's tasks instead.
        "startedBy": service["serviceName"],
        "group": f"service:{service['serviceName']}",
        # moto places EC2 tasks only on registered container instances; Fargate is the case.
        "launchType": service.get("launchType") or "FARGATE",
    }
    network = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if network:
        # moto's RunTask fails (HTTP 500) when securityGroups is absent.
        vpc = {"securityGroups": [], **network}
        request["networkConfiguration"] = {"awsvpcConfiguration": vpc}
    if service.get("propagateTags") == "SERVICE" and service.get("tags"):
        request["tags"] = service["tags"]
    return request


class Scheduler(Protocol):
    """What reconciliation needs of the runtime: start a task's container, stop one."""

    def launch(self, task: dict[str, Any], service: ServiceKey | None) -> TaskRecord | None: ...

    def request_stop(
        self, record: TaskRecord, stop_code: str, reason: str, tell_aws: bool = True
    ) -> None: ...


class ServiceReconciler:
    def __init__(self, ecs: EmulatedEcs, backoff: ServiceBackoff, scheduler: Scheduler) -> None:
        self.ecs = ecs
        self.backoff = backoff
        self.scheduler = scheduler

    def reconcile(self, service: dict[str, Any], records: Iterable[TaskRecord]) -> None:
        """Keep `desiredCount` tasks of the service's current task definition running;
        `records` are the tasks the runtime runs now."""
        key = service_key(service)
        desired = int(service.get("desiredCount", 0))
        deployments: list[dict[str, Any]] = service.get("deployments") or [{}]
        scaling = f"Scaling activity initiated by (deployment {deployments[0].get('id', '')})"
        wanted_td = str(service["taskDefinition"])
        if not wanted_td.startswith("arn:"):
            # moto keeps UpdateService's `family[:revision]` as given; tasks carry full ARNs.
            wanted_td = str(self.ecs.task_definition(wanted_td)["taskDefinitionArn"])
        live = [r for r in records if r.service == key and r.stop_code is None]
        current = [r for r in live if r.task_definition_arn == wanted_td]
        if len(current) < desired and self.backoff.allows_start(key, time.monotonic()):
            for _ in range(desired - len(current)):
                started = self._start_task(service)
                if started is None:
                    break
                current.append(started)
        for extra in sorted(current, key=lambda r: r.started_monotonic)[desired:]:
            self.scheduler.request_stop(extra, "ServiceSchedulerInitiated", scaling)
        if len(current) >= desired:
            # A new task definition: its tasks run, so the old revision's go (a rolling update).
            for old in live:
                if old.task_definition_arn != wanted_td:
                    self.scheduler.request_stop(old, "ServiceSchedulerInitiated", scaling)
        if len(current) >= desired and service.get("runningCount") != desired:
            self.ecs.sync_running_count(service)

    def _start_task(self, service: dict[str, Any]) -> TaskRecord | None:
        key = service_key(service)
        try:
            response = self.ecs.run_task(run_task_request(service))
        except (ClientError, BotoCoreError) as exc:
            logger.warning("service %s: RunTask failed: %s", key[1], error_code(exc))
            self.backoff.failed(key, time.monotonic())
            return None
        if not response.get("tasks"):
            logger.warning(
                "service %s: RunTask placed no task: %s", key[1], response.get("failures")
            )
            self.backoff.failed(key, time.monotonic())
            return None
        return self.scheduler.launch(response["tasks"][0], key)
