"""A local stand-in for Fargate: runs the ECS tasks and services that emulated AWS records.

moto records ECS services and tasks but runs nothing. This runtime, a process of its own next to
the local stack (`python -m bootstrap_local.ecs_runtime`), polls the emulated ECS API and
does what Fargate would:

- every task whose desired status is RUNNING (RunTask by the Prefect ECS worker, or a service's
  task) gets one Docker container, built from the task definition, the task's overrides and
  its secrets as `spec.py` says, and run by `executor.py`; an emulated RDS endpoint it names
  resolves to the local PostgreSQL, which gets the instance's user first (`rds_standin.py`);
  one whose security groups keep it from its PREFECT_API_URL runs with no network (`egress.py`);
- every ACTIVE service keeps `desiredCount` tasks (`services.py`);
- a task stopped through StopTask has its container stopped (its stop signal, SIGKILL after
  the container's `stopTimeout`);
- a container that exits stops its task (with the exit code in the reason, `emulator.py`), its
  output goes to the awslogs stream ECS would use (`logs.py`), and each PENDING / RUNNING /
  STOPPED transition is published as ECS's `ECS Task State Change` event (`events.py`).

Containers carry the label `org.bootstrap-flows.ecs-runtime=<state dir>`: shutdown and the
clean-up at start touch only containers with this runtime's label.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows import docker_engine
from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_local.ecs_runtime.clients import AwsClients
from bootstrap_local.ecs_runtime.egress import EgressGate
from bootstrap_local.ecs_runtime.emulator import EmulatedEcs, exit_reason
from bootstrap_local.ecs_runtime.errors import (
    EXPECTED_LAUNCH_ERRORS,
    EcsRuntimeError,
    launch_failure_reason,
)
from bootstrap_local.ecs_runtime.events import (
    TaskEvents,
    container_event,
    iso,
    stopped_container_event,
)
from bootstrap_local.ecs_runtime.executor import DockerExecutor
from bootstrap_local.ecs_runtime.images import ensure_image
from bootstrap_local.ecs_runtime.logs import LogShipper
from bootstrap_local.ecs_runtime.rds_standin import RdsInstance, RdsStandIn, extra_hosts
from bootstrap_local.ecs_runtime.roles import (
    TaskRoles,
    execution_role_arn,
    ledger_file,
    task_role_arn,
)
from bootstrap_local.ecs_runtime.secret_values import SecretResolver
from bootstrap_local.ecs_runtime.services import ServiceBackoff, ServiceReconciler
from bootstrap_local.ecs_runtime.spec import (
    RuntimeFacts,
    check_platform,
    container_spec,
    essential_container,
    local_image_ref,
)
from bootstrap_local.ecs_runtime.tasks import ServiceKey, TaskRecord
from bootstrap_local.settings import LocalSettings

# One name for every module of the runtime, and not `__main__` when run with `python -m`.
logger = logging.getLogger("bootstrap_local.ecs_runtime")

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_SHUTDOWN_GRACE = 10.0


class EcsRuntime:
    """Runs emulated ECS tasks and services as Docker containers; see the module docstring.

    `start()` once, then `run_once()` per poll (or `run(stop_event)`), and `shutdown()` at the
    end: it stops every container this runtime started and marks their tasks STOPPED.
    """

    def __init__(
        self,
        settings: BootstrapSettings,
        local: LocalSettings,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        docker_client: docker.DockerClient | None = None,
        instance: str | None = None,
    ) -> None:
        self.target = resolve(settings)
        endpoint = self.target.endpoint_url
        if not endpoint:
            raise EcsRuntimeError(
                "the local ECS runtime only runs against emulated AWS: use the `local` "
                "environment or set BOOTSTRAP_AWS_ENDPOINT_URL"
            )
        self.settings = settings
        self.endpoint = endpoint
        self.poll_interval = poll_interval
        self.instance = instance or str(local.state_dir.resolve())
        self.clients = AwsClients(settings)
        self.ecs = EmulatedEcs(self.clients.get("ecs"), endpoint)
        self.events = TaskEvents(self.clients.get("events"))
        self.roles = TaskRoles(self.clients, ledger_file(local), local.iam_propagation_seconds)
        self.rds = RdsStandIn(self.clients, local)
        self.egress = EgressGate(self.clients.get("ec2"))
        self.executor = DockerExecutor(
            docker_client or docker_engine.ensure_docker(), self.instance
        )
        self.tasks: dict[str, TaskRecord] = {}
        # Task ARNs launched or given up on, so no task runs twice (pruned each pass).
        self.handled: set[str] = set()
        self.backoff = ServiceBackoff()
        self.services = ServiceReconciler(self.ecs, self.backoff, self)

    # --- launching -------------------------------------------------------------------------

    def launch(self, task: dict[str, Any], service: ServiceKey | None) -> TaskRecord | None:
        """Run the container of `task`; if it cannot start, stop the task as ECS would."""
        arn = str(task["taskArn"])
        self.handled.add(arn)
        self.events.first_seen(arn)
        container_def: dict[str, Any] = {}
        try:
            definition = self.ecs.task_definition(str(task["taskDefinitionArn"]))
            container_def = essential_container(definition)
            if len(definition.get("containerDefinitions") or []) > 1:
                logger.warning(
                    "task %s: only container %s runs; the local runtime runs one per task",
                    arn,
                    container_def["name"],
                )
            self.events.emit(task, "PENDING", [container_event(task, container_def, "PENDING")])
            return self._start_container(task, service, definition, container_def)
        except Exception as exc:  # Whatever failed, the task must not stay RUNNING unrun.
            if not isinstance(exc, EXPECTED_LAUNCH_ERRORS):
                logger.exception("task %s: unexpected error while starting it", arn)
            self._launch_failed(task, service, container_def, launch_failure_reason(exc))
            return None

    def _launch_failed(
        self,
        task: dict[str, Any],
        service: ServiceKey | None,
        container_def: dict[str, Any],
        reason: str,
    ) -> None:
        arn = str(task["taskArn"])
        logger.warning("task %s failed to start: %s", arn, reason)
        self.ecs.stop_task(str(task["clusterArn"]), arn, reason)
        stopped = {**container_event(task, container_def, "STOPPED"), "reason": reason}
        self.events.emit(
            task,
            "STOPPED",
            [stopped] if container_def else [],
            stopCode="TaskFailedToStart",
            stoppedReason=reason,
            stoppingAt=iso(datetime.now(UTC)),
            stoppedAt=iso(datetime.now(UTC)),
        )
        if service:
            self.backoff.failed(service, time.monotonic())
        self.events.forget(arn)

    def _start_container(
        self,
        task: dict[str, Any],
        service: ServiceKey | None,
        definition: dict[str, Any],
        container_def: dict[str, Any],
    ) -> TaskRecord:
        """Pull, read secrets, make the log stream, then run the spec; what fails first is the
        task's stoppedReason."""
        image = local_image_ref(str(container_def["image"]), self.target.registry_host)
        arn = str(task["taskArn"])
        execution_role = execution_role_arn(task, definition)
        agent = self.roles.agent_clients(execution_role, arn)
        pull_started = time.monotonic()
        present = ensure_image(self.executor, image, self.target.registry_host, agent)
        # bench/flow_start.py reads this line: the pull's share of a flow run's start.
        logger.info("task %s image ready in %.3f s", arn, time.monotonic() - pull_started)
        check_platform(definition, image, present.architecture)
        secrets = SecretResolver(agent).resolve(container_def)
        databases = self.rds.instances()
        facts = self._facts(databases, self._task_credentials(task, definition))
        spec = container_spec(task, definition, secrets, facts, present.stop_signal)
        spec = self.egress.confine(task, spec)  # its security groups, as on Fargate
        self.rds.prepare(databases[host] for host in spec.extra_hosts)
        if spec.log_target:
            LogShipper(agent).prepare(spec.log_target)
        container_id = self.executor.run(spec)
        record = TaskRecord.started(task, spec, container_id, service, self.events.first_seen(arn))
        record.execution_role = execution_role
        self.tasks[arn] = record
        logger.info("task %s runs in container %s", arn, spec.name)
        self.events.emit(
            task,
            "RUNNING",
            [container_event(task, container_def, "RUNNING")],
            startedAt=iso(record.started_at),
            pullStartedAt=iso(record.created_at),
            pullStoppedAt=iso(record.started_at),
        )
        return record

    def _task_credentials(self, task: dict[str, Any], definition: dict[str, Any]) -> dict[str, str]:
        # A task without a role keeps the emulator's keys (tests' probes); with one, only its own.
        role = task_role_arn(task, definition)
        if role is None:
            return {}
        return self.roles.assume(role, str(task["taskArn"]), "task").environment()

    def _facts(
        self, databases: dict[str, RdsInstance], credentials: dict[str, str]
    ) -> RuntimeFacts:
        return RuntimeFacts(
            instance=self.instance,
            registry_host=self.target.registry_host,
            region=self.settings.aws_region,
            environment=aws.aws_environment(self.settings) | credentials,
            extra_hosts=extra_hosts(databases),
        )

    # --- stopping --------------------------------------------------------------------------

    def request_stop(
        self, record: TaskRecord, stop_code: str, reason: str, tell_aws: bool = True
    ) -> None:
        """Send the container its stop signal (SIGKILL follows after its stop timeout) and,
        unless told otherwise, set the task's desired status STOPPED at once, as ECS does."""
        if record.stop_code is None:
            record.stop_code, record.stop_reason = stop_code, reason
        if stop_code == "UserInitiated":
            record.stopped_in_aws = True
        elif tell_aws and not record.stopped_in_aws:
            self.ecs.stop_task(record.cluster_arn, record.arn, reason)
            record.stopped_in_aws = True
        if record.kill_at is not None:
            return
        record.kill_at = time.monotonic() + record.stop_timeout
        self.executor.kill(record.container_id, record.stop_signal)

    def _escalate(self) -> None:
        now = time.monotonic()
        for record in self.tasks.values():
            if record.kill_at is not None and now >= record.kill_at:
                record.kill_at = float("inf")
                self.executor.kill(record.container_id, "SIGKILL")

    def finish(
        self, record: TaskRecord, exit_code: int | None, container_reason: str | None
    ) -> None:
        """The container is gone: ship its last output, stop the task, publish STOPPED."""
        self.ship_logs(record)
        if record.stop_code is None:
            # The container ended on its own: its task stops with it, as on ECS.
            record.stop_code = "EssentialContainerExited"
            record.stop_reason = exit_reason(exit_code)
            if record.service:
                self.backoff.failed(record.service, time.monotonic())
        if not record.stopped_in_aws:
            self.ecs.stop_task(record.cluster_arn, record.arn, record.stop_reason or "")
            record.stopped_in_aws = True
        self._emit_stopped(record, exit_code, container_reason)
        try:
            self.executor.remove(record.container_id)
        except docker.errors.APIError as exc:
            logger.warning("could not remove container of %s: %s", record.arn, exc.explanation)
        self.tasks.pop(record.arn, None)
        self.events.forget(record.arn)
        self.roles.forget(record.arn)
        logger.info(
            "task %s stopped (%s: %s)", record.arn, record.stop_code, record.stop_reason or ""
        )

    def _emit_stopped(
        self, record: TaskRecord, exit_code: int | None, container_reason: str | None
    ) -> None:
        now = datetime.now(UTC)
        self.events.emit(
            record.task,
            "STOPPED",
            [stopped_container_event(record, exit_code, container_reason)],
            stopCode=record.stop_code,
            stoppedReason=record.stop_reason,
            startedAt=iso(record.started_at),
            stoppingAt=iso(now),
            executionStoppedAt=iso(now),
            stoppedAt=iso(now),
        )

    def reap(self) -> None:
        """Finish the tasks whose containers exited (or were removed behind our back)."""
        states = {container.task_arn: container for container in self.executor.own_containers()}
        for record in list(self.tasks.values()):
            container = states.get(record.arn)
            if container is None:
                self.finish(record, None, "the container was removed outside the ECS runtime")
                continue
            if not container.exited:
                continue
            state = self.executor.exit_state(record.container_id)
            reason = None
            if state.get("OOMKilled"):
                reason = "OutOfMemoryError: Container killed due to memory usage"
            elif state.get("Error"):
                reason = str(state["Error"])
            self.finish(record, int(state.get("ExitCode", -1)), reason)

    def ship_logs(self, record: TaskRecord) -> None:
        """Send the container's output since the last call to its CloudWatch stream."""
        target = record.log_target
        if target is None:
            return
        since = record.last_log_ns // 1_000_000_000
        try:
            raw = self.executor.logs(record.container_id, since if since > 0 else None)
        except docker.errors.APIError as exc:
            logger.warning("could not read logs of %s: %s", record.arn, exc.explanation)
            return
        shipper = LogShipper(self.roles.agent_clients(record.execution_role, record.arn))
        record.last_log_ns = shipper.ship(target, raw, record.last_log_ns, record.arn)

    # --- the loop --------------------------------------------------------------------------

    def run_once(self) -> None:
        """One reconciliation pass: reap, honour StopTask, launch new tasks, keep services."""
        self.ecs.hold_task_status()
        wanted: dict[str, str] = {}  # task ARN -> cluster ARN
        services: list[dict[str, Any]] = []
        for cluster_arn in self.ecs.clusters():
            wanted.update(dict.fromkeys(self.ecs.wanted(cluster_arn), cluster_arn))
            services.extend(self.ecs.active_services(cluster_arn))
        self.reap()
        self._honour_stop_task(wanted)
        self._launch_new(wanted)
        active = {(str(s["clusterArn"]), str(s["serviceName"])) for s in services}
        for record in list(self.tasks.values()):
            if record.service and record.service not in active and record.stop_code is None:
                self.request_stop(
                    record, "ServiceSchedulerInitiated", "Service deleted or no longer active"
                )
        for service in services:
            self.services.reconcile(service, list(self.tasks.values()))
        for record in list(self.tasks.values()):
            self.ship_logs(record)
        self._escalate()
        # A task leaves the RUNNING list for good once stopped: forget it.
        self.handled &= set(wanted) | set(self.tasks)

    def _honour_stop_task(self, wanted: dict[str, str]) -> None:
        stopped_by_user = [
            r for r in self.tasks.values() if r.arn not in wanted and r.stop_code is None
        ]
        for record in stopped_by_user:
            # StopTask from elsewhere (Prefect cancelling a run, a user), or the task is gone.
            try:
                found = self.ecs.describe(record.cluster_arn, [record.arn])
            except (ClientError, BotoCoreError):
                found = []  # Its cluster is gone too.
            reason = (found[0].get("stoppedReason") if found else None) or "Task stopped by user"
            self.request_stop(record, "UserInitiated", str(reason))

    def _launch_new(self, wanted: dict[str, str]) -> None:
        new: dict[str, list[str]] = {}
        for arn, cluster_arn in wanted.items():
            if arn not in self.tasks and arn not in self.handled:
                new.setdefault(cluster_arn, []).append(arn)
        for cluster_arn, arns in new.items():
            for task in self.ecs.describe(cluster_arn, arns):
                if task.get("desiredStatus") != "RUNNING":
                    continue
                group = str(task.get("group", ""))
                # A service's task not started by this run (the runtime restarted): adopt it.
                owner = (cluster_arn, group[8:]) if group.startswith("service:") else None
                self.launch(task, owner)

    def start(self, timeout: float = 30) -> None:
        """Take over task status in moto and clear what a crashed earlier run left behind."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ecs.hold_task_status()
                break
            except httpx.HTTPError as exc:
                if time.monotonic() >= deadline:
                    raise EcsRuntimeError(
                        f"emulated AWS does not answer at {self.endpoint} ({exc}); start it first"
                    ) from exc
                time.sleep(1)
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        orphans: dict[str, list[str]] = {}
        for container in self.executor.own_containers():
            if container.task_arn and container.cluster_arn:
                orphans.setdefault(container.cluster_arn, []).append(container.task_arn)
            logger.info("removing leftover container %s", container.id[:12])
            self.executor.remove(container.id)
        reason = "Task stopped: the local ECS runtime restarted and its container was lost"
        for cluster_arn, arns in orphans.items():
            try:
                tasks = self.ecs.describe(cluster_arn, arns)
            except (ClientError, BotoCoreError):
                continue  # The cluster is gone (moto restarted): nothing to mark.
            for task in tasks:
                if task.get("desiredStatus") != "RUNNING":
                    continue
                self.ecs.stop_task(cluster_arn, str(task["taskArn"]), reason)
                self.events.emit(
                    task,
                    "STOPPED",
                    [{**container_event(task, {}, "STOPPED"), "reason": reason}],
                    stopCode="EssentialContainerExited",
                    stoppedReason=reason,
                    stoppedAt=iso(datetime.now(UTC)),
                )

    def run(self, stop: threading.Event, heartbeat: Path | None = None) -> None:
        """Poll until `stop` is set; a failed pass is logged and retried at the next poll."""
        while not stop.is_set():
            try:
                self.run_once()
                if heartbeat:
                    heartbeat.touch()
            except (
                ClientError,
                BotoCoreError,
                httpx.HTTPError,
                docker.errors.DockerException,
            ) as exc:
                logger.warning("pass failed, retrying in %.0f s: %s", self.poll_interval, exc)
            except Exception:
                # A bug must not end the runtime: that would stop every task it runs.
                logger.exception("pass failed unexpectedly; retrying in %.0f s", self.poll_interval)
            stop.wait(self.poll_interval)

    def shutdown(self, grace: float = DEFAULT_SHUTDOWN_GRACE) -> None:
        """Stop every container this runtime started (SIGKILL after `grace` s), mark their
        tasks STOPPED and publish the events; remove any other container with our label."""
        reason = "Task stopped: the local ECS runtime shut down"
        for record in self.tasks.values():
            record.stop_timeout = min(record.stop_timeout, grace)
            if record.kill_at is not None:
                record.kill_at = min(record.kill_at, time.monotonic() + grace)
            # AWS hears of it in finish(), only if it still answers by then.
            self.request_stop(record, "TerminationNotice", reason, tell_aws=False)
        deadline = time.monotonic() + grace + 5
        while self.tasks and time.monotonic() < deadline:
            self._escalate()
            running = {c.task_arn for c in self.executor.own_containers() if not c.exited}
            if not running & set(self.tasks):
                break
            time.sleep(0.2)
        if self.tasks and self.ecs.answers():
            try:
                self.reap()
            except docker.errors.DockerException as exc:
                logger.warning("could not read container states: %s", exc)
        for record in list(self.tasks.values()):
            # Still here: AWS is down (nothing to tell it) or the container would not die.
            self._remove_quietly(record.container_id)
            self.tasks.pop(record.arn, None)
        for container in self.executor.own_containers():
            self._remove_quietly(container.id)
        self.ecs.close()

    def _remove_quietly(self, container_id: str) -> None:
        # At shutdown there is nobody left to tell; what Docker refuses stays for the next start.
        with contextlib.suppress(docker.errors.APIError):
            self.executor.remove(container_id)


# --- the process ---------------------------------------------------------------------------


def heartbeat_file(local: LocalSettings) -> Path:
    """Touched after every successful pass: `healthy()` reads it."""
    return local.state_dir / "run" / "ecs-runtime.heartbeat"


def healthy(local: LocalSettings, max_age: float = 15.0) -> bool:
    """True if a runtime for these settings completed a pass in the last `max_age` seconds."""
    try:
        return time.time() - heartbeat_file(local).stat().st_mtime < max_age
    except FileNotFoundError:
        return False
