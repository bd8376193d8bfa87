"""What the runtime remembers of each task whose container it started."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bootstrap_local.ecs_runtime.spec import ContainerSpec, LogTarget

ServiceKey = tuple[str, str]  # (cluster ARN, service name)


def task_container(task: dict[str, Any]) -> dict[str, Any]:
    """The task's first container as moto records it (its ARN exists only there)."""
    return dict((task.get("containers") or [{}])[0])


@dataclass
class TaskRecord:
    """A task whose container this runtime started."""

    task: dict[str, Any]
    container_id: str
    container_name: str
    container_arn: str | None
    image: str
    service: ServiceKey | None
    log_target: LogTarget | None
    stop_timeout: float
    stop_signal: str
    created_at: datetime
    started_at: datetime
    started_monotonic: float = field(default_factory=time.monotonic)
    last_log_ns: int = 0
    # Set once the task is on its way down: why (stopCode, stoppedReason) and when to SIGKILL.
    stop_code: str | None = None
    stop_reason: str | None = None
    kill_at: float | None = None
    # True once moto has the task STOPPED (by us, or by whoever called StopTask).
    stopped_in_aws: bool = False
    # The role the agent's calls for this task (log shipping) are made under; None: the runtime's.
    execution_role: str | None = None

    @property
    def arn(self) -> str:
        return str(self.task["taskArn"])

    @property
    def cluster_arn(self) -> str:
        return str(self.task["clusterArn"])

    @property
    def task_definition_arn(self) -> str:
        return str(self.task["taskDefinitionArn"])

    @classmethod
    def started(
        cls,
        task: dict[str, Any],
        spec: ContainerSpec,
        container_id: str,
        service: ServiceKey | None,
        created_at: datetime,
    ) -> TaskRecord:
        """The record of `task`'s container, just started from `spec`."""
        return cls(
            task=task,
            container_id=container_id,
            container_name=spec.container_name,
            container_arn=task_container(task).get("containerArn"),
            image=spec.task_image,
            service=service,
            log_target=spec.log_target,
            stop_timeout=spec.stop_timeout,
            stop_signal=spec.stop_signal,
            created_at=created_at,
            started_at=datetime.now(UTC),
        )
