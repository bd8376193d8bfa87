"""A local stand-in for Fargate: runs the ECS tasks and services that emulated AWS records.

moto records ECS services and tasks but runs nothing. This runtime, a process of its own next to
the local stack (`python -m bootstrap_flows.ecs_runtime`), polls the emulated ECS API and does
what Fargate would:

- every task whose desired status is RUNNING (RunTask by the Prefect ECS worker, or a service's
  task) gets one Docker container: the task definition's image, entry point, command and
  environment with the task's container overrides, its `secrets` read from Secrets Manager or
  SSM, and the AWS settings a task role would give (endpoint, credentials, region) plus
  `ECS_TASK_ARN=<the task's ARN>` and `ECS_CONTAINER_IMAGE=<its image>` so code inside can
  report where it ran (on Fargate the task metadata endpoint tells the same);
- every ACTIVE service keeps `desiredCount` tasks: missing ones are started (RunTask with
  `group=service:<name>`, `startedBy=<name>`), dead ones replaced, extras stopped;
- a task stopped through StopTask has its container stopped (SIGTERM, SIGKILL after the
  container's `stopTimeout`);
- a container that exits stops its task (StopTask with the exit code in the reason), its output
  goes to the awslogs log group and stream ECS would use, and each PENDING / RUNNING / STOPPED
  transition is published as the `ECS Task State Change` event ECS sends to EventBridge.

Containers use the host network, so they reach moto and the Prefect server on 127.0.0.1, and
carry the label `org.bootstrap-flows.ecs-runtime=<state dir>`: shutdown and the clean-up at
start touch only containers with this runtime's label.

What moto 5.2.1 allows, and the choices made here:

- Task status: moto's tasks start RUNNING (it has no PROVISIONING/PENDING) and by default move
  one step towards STOPPED on every DescribeTasks, which the Prefect ECS observer calls. The
  runtime sets moto's state manager (`/moto-api/state-manager/set-transition`, model
  `ecs::task`) to manual progression with a tick count never reached, so a task's status only
  changes through StopTask. It re-asserts this every pass, in case moto restarted.
- Exit codes: moto always reports `containers[].exitCode = 0` and has no API to change it, so the
  real code goes into `stoppedReason` ("Essential container in task exited (exit code N)") and
  into the STOPPED event's `containers[].exitCode`, which is what the Prefect observer reads.
- Service counts: moto sets `runningCount` only from UpdateService, to the new `desiredCount`.
  Once a service's containers all run, the runtime calls UpdateService with the unchanged
  desired count so `runningCount` matches; it cannot lower `runningCount` while a replacement
  is pending. moto's ListTasks ignores `serviceName`, hence `startedBy=<service name>` (real ECS
  uses the deployment ID) so `list_tasks(startedBy=...)` finds a service's tasks.
- Events: moto's PutEvents matches every rule's event pattern and delivers to its SQS targets,
  so the runtime puts the event on the default bus and the real rule and target do the routing
  (real EventBridge refuses `aws.*` sources from PutEvents; only the emulator accepts them).
  moto leaves `account` out of the delivered message; the observer does not read it.
- Only the first essential container of a task definition runs (Prefect's tasks have one).
"""

from __future__ import annotations

import argparse
import base64
import calendar
import contextlib
import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import docker
import docker.errors
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from docker.utils import parse_repository_tag

from bootstrap_flows import aws, docker_engine
from bootstrap_flows.settings import BootstrapSettings, SettingsError, load_settings
from bootstrap_flows.target import resolve

# Named, not __name__: run with `python -m` the module is `__main__`.
logger = logging.getLogger("bootstrap_flows.local.ecs_runtime")

RUNTIME_LABEL = "org.bootstrap-flows.ecs-runtime"
TASK_LABEL = "org.bootstrap-flows.ecs-task-arn"
CLUSTER_LABEL = "org.bootstrap-flows.ecs-cluster-arn"

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_SHUTDOWN_GRACE = 10.0
# ECS's default and largest stopTimeout on Fargate.
DEFAULT_STOP_TIMEOUT = 30
MAX_STOP_TIMEOUT = 120
# A tick count moto never reaches: with it a task's status changes only through StopTask.
NEVER = 2**31 - 1
TASK_TRANSITION = {
    "model_name": "ecs::task",
    "transition": {"progression": "manual", "times": NEVER},
}
# put_log_events limits: 10,000 events and 1 MiB per call, 26 bytes overhead per event.
LOG_BATCH_EVENTS = 10_000
LOG_BATCH_BYTES = 1_048_576
LOG_EVENT_OVERHEAD = 26
LOG_EVENT_MAX_BYTES = 262_144 - LOG_EVENT_OVERHEAD
# A crash-looping service task is restarted after 2, 4, ... up to 60 s, like ECS's throttling.
MAX_BACKOFF = 60.0
BACKOFF_RESET = 300.0

ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")

ServiceKey = tuple[str, str]  # (cluster ARN, service name)


class EcsRuntimeError(RuntimeError):
    """The runtime cannot start; the message says what is missing."""


class LaunchError(Exception):
    """A task's container could not start; the message is the task's stoppedReason."""


# --- pure helpers (unit-tested) ------------------------------------------------------------


def local_image_ref(image: str, registry_host: str | None) -> str:
    """The image reference to pull: an ECR repository URI moves to the local registry.

    Images for the embedded default are pushed to the registry standing in for ECR (moto has
    no registry endpoint), under the same repository path.
    """
    host, sep, rest = image.partition("/")
    if sep and registry_host and ECR_HOST.match(host):
        return f"{registry_host}/{rest}"
    return image


def registry_host_of(image: str) -> str | None:
    """The registry host of an image reference, None for Docker Hub's short names."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


@dataclass(frozen=True)
class SecretRef:
    """A parsed `secrets[].valueFrom`: a Secrets Manager secret (optionally one JSON key,
    version stage or version ID) or an SSM parameter."""

    service: str  # "secretsmanager" or "ssm"
    name: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


def parse_value_from(value_from: str) -> SecretRef:
    """Parse ECS's `valueFrom` forms.

    `arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<version-id>]`,
    `arn:aws:ssm:<region>:<account>:parameter/<name>` or a bare SSM parameter name.
    """
    parts = value_from.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "secretsmanager":
        extra = [*parts[7:10], "", "", ""][:3]
        return SecretRef(
            "secretsmanager",
            ":".join(parts[:7]),
            json_key=extra[0] or None,
            version_stage=extra[1] or None,
            version_id=extra[2] or None,
        )
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "ssm":
        resource = ":".join(parts[5:]).removeprefix("parameter")
        # A hierarchical name (/a/b) has ARN ...:parameter/a/b, a flat one (x) ...:parameter/x.
        name = resource if resource.count("/") > 1 else resource.lstrip("/")
        return SecretRef("ssm", name)
    return SecretRef("ssm", value_from)


def docker_time_ns(stamp: str) -> int:
    """Nanoseconds since the epoch of a Docker log timestamp (RFC 3339, UTC, up to 9 digits)."""
    main, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def parse_log_lines(raw: bytes, after_ns: int) -> list[tuple[int, str]]:
    """(timestamp ns, message) of Docker log lines (`timestamps=True`) newer than `after_ns`.

    Empty lines are dropped, as Docker's awslogs driver does (CloudWatch rejects them).
    Sorted by time (stable).
    """
    events = []
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        stamp, sep, message = line.partition(" ")
        if not sep:
            continue
        try:
            ns = docker_time_ns(stamp)
        except ValueError:
            continue
        message = message.rstrip("\r")
        if ns > after_ns and message:
            events.append((ns, message))
    # stdout and stderr come from separate streams; CloudWatch wants each batch in time order.
    return sorted(events, key=lambda event: event[0])


def log_batches(
    events: list[tuple[int, str]],
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """put_log_events batches within CloudWatch's limits (oversized messages truncated), each
    with the Docker timestamp (ns) of its last line."""
    batch: list[dict[str, Any]] = []
    size = last_ns = 0
    for ns, message in events:
        data = message.encode()[:LOG_EVENT_MAX_BYTES]
        cost = len(data) + LOG_EVENT_OVERHEAD
        if batch and (len(batch) >= LOG_BATCH_EVENTS or size + cost > LOG_BATCH_BYTES):
            yield batch, last_ns
            batch, size = [], 0
        batch.append({"timestamp": ns // 1_000_000, "message": data.decode(errors="ignore")})
        size += cost
        last_ns = ns
    if batch:
        yield batch, last_ns


def container_environment(
    base: dict[str, str],
    container: dict[str, Any],
    override: dict[str, Any],
    secrets: dict[str, str],
    task_arn: str,
) -> dict[str, str]:
    """A container's environment, later sources winning as on ECS: what a task role provides,
    the container definition, the task's override, the resolved secrets, where it runs."""
    env = dict(base)
    for source in (container.get("environment") or [], override.get("environment") or []):
        env.update({item["name"]: item.get("value", "") for item in source})
    env.update(secrets)
    env["ECS_TASK_ARN"] = task_arn
    if container.get("image"):
        env["ECS_CONTAINER_IMAGE"] = str(container["image"])
    return env


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _task_id(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


# --- the runtime ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LogTarget:
    group: str
    stream: str
    region: str
    create_group: bool


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

    @property
    def arn(self) -> str:
        return str(self.task["taskArn"])

    @property
    def cluster_arn(self) -> str:
        return str(self.task["clusterArn"])

    @property
    def task_definition_arn(self) -> str:
        return str(self.task["taskDefinitionArn"])


class EcsRuntime:
    """Runs emulated ECS tasks and services as Docker containers; see the module docstring.

    `start()` once, then `run_once()` per poll (or `run(stop_event)`), and `shutdown()` at the
    end: it stops every container this runtime started and marks their tasks STOPPED.
    """

    def __init__(
        self,
        settings: BootstrapSettings,
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
        self.instance = instance or str(settings.local_state_dir.resolve())
        # Few retries and short timeouts: a pass that fails is simply repeated at the next poll.
        self._config = Config(
            retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=30
        )
        self.ecs = self._client("ecs")
        self.events = self._client("events")
        self.docker = docker_client or docker_engine.ensure_docker()
        self.tasks: dict[str, TaskRecord] = {}
        # Task ARNs launched or given up on, so no task runs twice (pruned each pass).
        self.handled: set[str] = set()
        self.created_at: dict[str, datetime] = {}
        self.backoff: dict[ServiceKey, tuple[int, float, float]] = {}
        self._clients: dict[tuple[str, str], Any] = {}

    # --- AWS plumbing ----------------------------------------------------------------------

    def _client(self, service: str, region: str | None = None) -> Any:
        settings = self.settings
        if region and region != settings.aws_region:
            settings = settings.model_copy(update={"aws_region": region})
        return aws.client(settings, service, config=self._config)

    def _regional(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.settings.aws_region)
        if key not in self._clients:
            self._clients[key] = self._client(service, key[1])
        return self._clients[key]

    def hold_task_status(self) -> None:
        """Stop moto from advancing task status on its own (see the module docstring)."""
        response = httpx.post(
            f"{self.endpoint}/moto-api/state-manager/set-transition",
            json=TASK_TRANSITION,
            timeout=5,
        )
        response.raise_for_status()

    def _stop_in_moto(self, cluster_arn: str, task_arn: str, reason: str) -> None:
        try:
            self.ecs.stop_task(cluster=cluster_arn, task=task_arn, reason=reason[:1024])
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not mark task %s STOPPED: %s", task_arn, _error_code(exc))

    def _describe(self, cluster_arn: str, arns: list[str]) -> list[dict[str, Any]]:
        described: list[dict[str, Any]] = []
        for chunk in _chunks(arns, 100):
            response = self.ecs.describe_tasks(cluster=cluster_arn, tasks=chunk)
            described.extend(response.get("tasks", []))
        return described

    def _task_definition(self, arn: str) -> dict[str, Any]:
        # Not cached: a restarted moto hands out the same ARN for a different definition.
        return dict(self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"])

    def emit(
        self,
        task: dict[str, Any],
        last_status: str,
        containers: list[dict[str, Any]],
        **extra: Any,
    ) -> None:
        """Publish the `ECS Task State Change` event ECS would send for this transition."""
        now = datetime.now(UTC)
        arn = str(task["taskArn"])
        detail: dict[str, Any] = {
            "clusterArn": task["clusterArn"],
            "taskArn": arn,
            "taskDefinitionArn": task["taskDefinitionArn"],
            "lastStatus": last_status,
            "desiredStatus": "STOPPED" if last_status == "STOPPED" else "RUNNING",
            "launchType": task.get("launchType") or "FARGATE",
            "group": task.get("group", ""),
            "startedBy": task.get("startedBy", ""),
            "overrides": task.get("overrides", {}),
            "containers": containers,
            "createdAt": _iso(self.created_at.get(arn, now)),
            "updatedAt": _iso(now),
            "version": {"PENDING": 1, "RUNNING": 2}.get(last_status, 3),
            **{key: value for key, value in extra.items() if value is not None},
        }
        try:
            response = self.events.put_events(
                Entries=[
                    {
                        "Source": "aws.ecs",
                        "DetailType": "ECS Task State Change",
                        "Detail": json.dumps(detail, default=str),
                        "Resources": [arn],
                        "Time": now,
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not send %s event of %s: %s", last_status, arn, _error_code(exc))
            return
        if response.get("FailedEntryCount"):
            logger.warning("EventBridge refused the %s event of %s", last_status, arn)

    # --- Docker plumbing -------------------------------------------------------------------

    def own_containers(self) -> list[Any]:
        """Containers of this runtime instance, running or not (sparse: list data only)."""
        return list(
            self.docker.containers.list(
                all=True, sparse=True, filters={"label": f"{RUNTIME_LABEL}={self.instance}"}
            )
        )

    def _registry_auth(self, host: str | None) -> dict[str, str] | None:
        """ECR credentials for ECR hosts and the registry standing in for ECR; else none."""
        if host is None or not (host == self.target.registry_host or ECR_HOST.match(host)):
            return None
        login = aws.ecr_login(self._regional("ecr"))
        return {"username": login.user, "password": login.password}

    def _ensure_image(self, image: str) -> tuple[str, str]:
        """(local reference, stop signal) of the task's image, pulled if need be.

        Digest-pinned images and Docker Hub-style names already present are used as they are
        (Docker Hub is unreachable here); tags on a registry are pulled, as Fargate does.
        """
        ref = local_image_ref(image, self.target.registry_host)
        host = registry_host_of(ref)
        if "@sha256:" in ref or host is None:
            try:
                found = self.docker.images.get(ref)
                return ref, str((found.attrs.get("Config") or {}).get("StopSignal") or "SIGTERM")
            except docker.errors.ImageNotFound:
                pass
        repository, tag = parse_repository_tag(ref)
        try:
            auth = self._registry_auth(host)
            for event in self.docker.api.pull(
                repository, tag=tag or "latest", stream=True, decode=True, auth_config=auth
            ):
                if "error" in event:
                    raise LaunchError(f"CannotPullContainerError: pull of {ref}: {event['error']}")
            pulled = self.docker.images.get(ref if tag else f"{ref}:latest")
        except (docker.errors.APIError, ClientError, BotoCoreError) as exc:
            explanation = getattr(exc, "explanation", None) or _error_code(exc)
            raise LaunchError(f"CannotPullContainerError: pull of {ref}: {explanation}") from None
        return ref, str((pulled.attrs.get("Config") or {}).get("StopSignal") or "SIGTERM")

    def _secret_value(self, value_from: str) -> str:
        ref = parse_value_from(value_from)
        region = ref.name.split(":")[3] if ref.name.startswith("arn:") else None
        try:
            if ref.service == "ssm":
                parameter = self._regional("ssm", region).get_parameter(
                    Name=ref.name, WithDecryption=True
                )
                return str(parameter["Parameter"]["Value"])
            kwargs: dict[str, str] = {"SecretId": ref.name}
            if ref.version_stage:
                kwargs["VersionStage"] = ref.version_stage
            if ref.version_id:
                kwargs["VersionId"] = ref.version_id
            secret = self._regional("secretsmanager", region).get_secret_value(**kwargs)
            value = secret.get("SecretString")
            if value is None:
                value = base64.b64encode(secret["SecretBinary"]).decode()
            if ref.json_key is None:
                return str(value)
            picked = json.loads(value)[ref.json_key]
            return picked if isinstance(picked, str) else json.dumps(picked)
        except (ClientError, BotoCoreError, KeyError, ValueError, TypeError) as exc:
            # The reason names the secret and the error type, never its value.
            raise LaunchError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                f"retrieving {ref.name}"
                + (f" key {ref.json_key}" if ref.json_key else "")
                + f" failed: {_error_code(exc)}"
            ) from None

    def _log_target(self, container: dict[str, Any], task_arn: str) -> LogTarget | None:
        config = container.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
            return None
        prefix = options.get("awslogs-stream-prefix")
        # ECS's stream name; Fargate requires a prefix, without one the task ID stands in.
        stream = (
            f"{prefix}/{container['name']}/{_task_id(task_arn)}" if prefix else _task_id(task_arn)
        )
        return LogTarget(
            group=str(options["awslogs-group"]),
            stream=stream,
            region=str(options.get("awslogs-region") or self.settings.aws_region),
            create_group=str(options.get("awslogs-create-group", "")).lower() == "true",
        )

    def _prepare_log_stream(self, target: LogTarget) -> None:
        logs = self._regional("logs", target.region)
        try:
            exists = logs.exceptions.ResourceAlreadyExistsException
            if target.create_group:
                with contextlib.suppress(exists):
                    logs.create_log_group(logGroupName=target.group)
            with contextlib.suppress(exists):
                logs.create_log_stream(logGroupName=target.group, logStreamName=target.stream)
        except (ClientError, BotoCoreError) as exc:
            # ECS fails the task the same way when the log group does not exist.
            raise LaunchError(
                "ResourceInitializationError: failed to validate logger args: log group "
                f"{target.group}: {_error_code(exc)}"
            ) from None

    def ship_logs(self, record: TaskRecord) -> None:
        """Send the container's output since the last call to its CloudWatch stream."""
        target = record.log_target
        if target is None:
            return
        since = record.last_log_ns // 1_000_000_000
        try:
            raw = self.docker.api.logs(
                record.container_id,
                stdout=True,
                stderr=True,
                timestamps=True,
                since=since if since > 0 else None,
            )
        except docker.errors.APIError as exc:
            logger.warning("could not read logs of %s: %s", record.arn, exc.explanation)
            return
        events = parse_log_lines(raw, record.last_log_ns)
        logs = self._regional("logs", target.region)
        for batch, last_ns in log_batches(events):
            try:
                logs.put_log_events(
                    logGroupName=target.group, logStreamName=target.stream, logEvents=batch
                )
            except (ClientError, BotoCoreError) as exc:
                logger.warning("could not ship logs of %s: %s", record.arn, _error_code(exc))
                return
            # Only what CloudWatch took counts as shipped; the rest goes at the next pass.
            record.last_log_ns = last_ns

    # --- launching -------------------------------------------------------------------------

    def launch(self, task: dict[str, Any], service: ServiceKey | None) -> TaskRecord | None:
        """Run the container of `task`; if it cannot start, stop the task as ECS would."""
        arn = str(task["taskArn"])
        self.handled.add(arn)
        self.created_at.setdefault(arn, datetime.now(UTC))
        container_def: dict[str, Any] = {}
        moto_container = (task.get("containers") or [{}])[0]
        try:
            definition = self._task_definition(str(task["taskDefinitionArn"]))
            containers = definition.get("containerDefinitions") or []
            essential = [c for c in containers if c.get("essential", True)] or containers
            if not essential:
                raise LaunchError("TaskFailedToStart: the task definition has no container")
            container_def = essential[0]
            if len(containers) > 1:
                logger.warning(
                    "task %s: only container %s runs; the local runtime runs one per task",
                    arn,
                    container_def["name"],
                )
            self.emit(task, "PENDING", [self._container_event(task, container_def, "PENDING")])
            return self._start_container(task, service, definition, container_def, moto_container)
        except Exception as exc:  # Whatever failed, the task must not stay RUNNING unrun.
            if isinstance(exc, LaunchError):
                reason = str(exc)
            elif isinstance(exc, docker.errors.APIError):
                reason = f"CannotStartContainerError: {exc.explanation}"
            elif isinstance(exc, ClientError | BotoCoreError | docker.errors.DockerException):
                reason = f"TaskFailedToStart: {_error_code(exc)}"
            else:
                logger.exception("task %s: unexpected error while starting it", arn)
                reason = f"TaskFailedToStart: {type(exc).__name__}"
            logger.warning("task %s failed to start: %s", arn, reason)
            self._stop_in_moto(str(task["clusterArn"]), arn, reason)
            stopped = {**self._container_event(task, container_def, "STOPPED"), "reason": reason}
            self.emit(
                task,
                "STOPPED",
                [stopped] if container_def else [],
                stopCode="TaskFailedToStart",
                stoppedReason=reason,
                stoppingAt=_iso(datetime.now(UTC)),
                stoppedAt=_iso(datetime.now(UTC)),
            )
            if service:
                self._note_service_failure(service)
            self.created_at.pop(arn, None)
            return None

    def _start_container(
        self,
        task: dict[str, Any],
        service: ServiceKey | None,
        definition: dict[str, Any],
        container_def: dict[str, Any],
        moto_container: dict[str, Any],
    ) -> TaskRecord:
        arn = str(task["taskArn"])
        name = str(container_def["name"])
        override: dict[str, Any] = next(
            (
                item
                for item in (task.get("overrides") or {}).get("containerOverrides") or []
                if item.get("name") == name
            ),
            {},
        )
        image, stop_signal = self._ensure_image(str(container_def["image"]))
        secrets = {
            item["name"]: self._secret_value(str(item["valueFrom"]))
            for item in container_def.get("secrets") or []
        }
        env = container_environment(
            aws.aws_environment(self.settings), container_def, override, secrets, arn
        )
        log_target = self._log_target(container_def, arn)
        if log_target:
            self._prepare_log_stream(log_target)
        memory = (
            override.get("memory")
            or container_def.get("memory")
            or (task.get("overrides") or {}).get("memory")
            or definition.get("memory")
        )
        family = str(definition.get("family", "task"))
        created = self.docker.containers.create(
            image,
            command=override.get("command") or container_def.get("command") or None,
            entrypoint=container_def.get("entryPoint") or None,
            environment=env,
            working_dir=container_def.get("workingDirectory") or None,
            user=container_def.get("user") or None,
            # Host network: the container reaches moto and the Prefect server on 127.0.0.1.
            network_mode="host",
            mem_limit=f"{int(memory)}m" if memory else None,
            init=bool((container_def.get("linuxParameters") or {}).get("initProcessEnabled")),
            name=f"ecs-{family}-{definition.get('revision', 0)}-{_task_id(arn)}",
            labels={
                RUNTIME_LABEL: self.instance,
                TASK_LABEL: arn,
                CLUSTER_LABEL: str(task["clusterArn"]),
                # The labels the real ECS agent puts on its containers.
                "com.amazonaws.ecs.task-arn": arn,
                "com.amazonaws.ecs.cluster": str(task["clusterArn"]),
                "com.amazonaws.ecs.container-name": name,
                "com.amazonaws.ecs.task-definition-family": family,
                "com.amazonaws.ecs.task-definition-version": str(definition.get("revision", "")),
            },
        )
        try:
            created.start()
        except docker.errors.APIError:
            created.remove(force=True)
            raise
        stop_timeout = min(
            float(container_def.get("stopTimeout") or DEFAULT_STOP_TIMEOUT), MAX_STOP_TIMEOUT
        )
        now = datetime.now(UTC)
        record = TaskRecord(
            task=task,
            container_id=str(created.id),
            container_name=name,
            container_arn=moto_container.get("containerArn"),
            image=str(container_def["image"]),
            service=service,
            log_target=log_target,
            stop_timeout=stop_timeout,
            stop_signal=stop_signal,
            created_at=self.created_at[arn],
            started_at=now,
        )
        self.tasks[arn] = record
        logger.info("task %s runs in container %s", arn, created.name)
        self.emit(
            task,
            "RUNNING",
            [self._container_event(task, container_def, "RUNNING")],
            startedAt=_iso(now),
            pullStartedAt=_iso(record.created_at),
            pullStoppedAt=_iso(now),
        )
        return record

    def _container_event(
        self, task: dict[str, Any], container_def: dict[str, Any], status: str
    ) -> dict[str, Any]:
        moto_container = (task.get("containers") or [{}])[0]
        return {
            "containerArn": moto_container.get("containerArn"),
            "name": container_def.get("name") or moto_container.get("name"),
            "image": container_def.get("image") or moto_container.get("image"),
            "lastStatus": status,
            "taskArn": task["taskArn"],
        }

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
            self._stop_in_moto(record.cluster_arn, record.arn, reason)
            record.stopped_in_aws = True
        if record.kill_at is not None:
            return
        record.kill_at = time.monotonic() + record.stop_timeout
        # APIError: it already exited; the next pass reaps it.
        with contextlib.suppress(docker.errors.APIError):
            self.docker.api.kill(record.container_id, signal=record.stop_signal)

    def _escalate(self) -> None:
        now = time.monotonic()
        for record in self.tasks.values():
            if record.kill_at is not None and now >= record.kill_at:
                record.kill_at = float("inf")
                with contextlib.suppress(docker.errors.APIError):
                    self.docker.api.kill(record.container_id, signal="SIGKILL")

    def finish(
        self, record: TaskRecord, exit_code: int | None, container_reason: str | None
    ) -> None:
        """The container is gone: ship its last output, stop the task, publish STOPPED."""
        self.ship_logs(record)
        if record.stop_code is None:
            # The container ended on its own: its task stops with it, as on ECS.
            record.stop_code = "EssentialContainerExited"
            record.stop_reason = "Essential container in task exited" + (
                f" (exit code {exit_code})" if exit_code is not None else ""
            )
            if record.service:
                self._note_service_failure(record.service)
        if not record.stopped_in_aws:
            self._stop_in_moto(record.cluster_arn, record.arn, record.stop_reason or "")
            record.stopped_in_aws = True
        now = datetime.now(UTC)
        container: dict[str, Any] = {
            "containerArn": record.container_arn,
            "name": record.container_name,
            "image": record.image,
            "lastStatus": "STOPPED",
            "taskArn": record.arn,
        }
        if exit_code is not None:
            container["exitCode"] = exit_code
        if container_reason:
            container["reason"] = container_reason
        self.emit(
            record.task,
            "STOPPED",
            [container],
            stopCode=record.stop_code,
            stoppedReason=record.stop_reason,
            startedAt=_iso(record.started_at),
            stoppingAt=_iso(now),
            executionStoppedAt=_iso(now),
            stoppedAt=_iso(now),
        )
        try:
            self.docker.api.remove_container(record.container_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            logger.warning("could not remove container of %s: %s", record.arn, exc.explanation)
        self.tasks.pop(record.arn, None)
        self.created_at.pop(record.arn, None)
        logger.info(
            "task %s stopped (%s: %s)", record.arn, record.stop_code, record.stop_reason or ""
        )

    def reap(self) -> None:
        """Finish the tasks whose containers exited (or were removed behind our back)."""
        states = {
            (container.attrs.get("Labels") or {}).get(TASK_LABEL): container
            for container in self.own_containers()
        }
        for record in list(self.tasks.values()):
            container = states.get(record.arn)
            if container is None:
                self.finish(record, None, "the container was removed outside the ECS runtime")
                continue
            if container.attrs.get("State") not in ("exited", "dead"):
                continue
            state = self.docker.api.inspect_container(record.container_id)["State"]
            reason = None
            if state.get("OOMKilled"):
                reason = "OutOfMemoryError: Container killed due to memory usage"
            elif state.get("Error"):
                reason = str(state["Error"])
            self.finish(record, int(state.get("ExitCode", -1)), reason)

    # --- services --------------------------------------------------------------------------

    def _note_service_failure(self, key: ServiceKey) -> None:
        failures, _, last = self.backoff.get(key, (0, 0.0, 0.0))
        now = time.monotonic()
        if now - last > BACKOFF_RESET:
            failures = 0
        failures += 1
        delay = min(MAX_BACKOFF, 2.0**failures)
        self.backoff[key] = (failures, now + delay, now)

    def _start_service_task(self, service: dict[str, Any]) -> TaskRecord | None:
        key = (str(service["clusterArn"]), str(service["serviceName"]))
        request: dict[str, Any] = {
            "cluster": service["clusterArn"],
            "taskDefinition": service["taskDefinition"],
            "count": 1,
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
        try:
            response = self.ecs.run_task(**request)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "service %s: RunTask failed: %s", service["serviceName"], _error_code(exc)
            )
            self._note_service_failure(key)
            return None
        if not response.get("tasks"):
            logger.warning(
                "service %s: RunTask placed no task: %s",
                service["serviceName"],
                response.get("failures"),
            )
            self._note_service_failure(key)
            return None
        return self.launch(response["tasks"][0], key)

    def reconcile_service(self, service: dict[str, Any]) -> None:
        """Keep `desiredCount` tasks of the service's current task definition running."""
        key = (str(service["clusterArn"]), str(service["serviceName"]))
        desired = int(service.get("desiredCount", 0))
        deployments: list[dict[str, Any]] = service.get("deployments") or [{}]
        deployment = deployments[0].get("id", "")
        scaling = f"Scaling activity initiated by (deployment {deployment})"
        wanted_td = str(service["taskDefinition"])
        if not wanted_td.startswith("arn:"):
            # moto keeps UpdateService's `family[:revision]` as given; tasks carry full ARNs.
            wanted_td = str(self._task_definition(wanted_td)["taskDefinitionArn"])
        live = [r for r in self.tasks.values() if r.service == key and r.stop_code is None]
        current = [r for r in live if r.task_definition_arn == wanted_td]
        if len(current) < desired and time.monotonic() >= self.backoff.get(key, (0, 0.0, 0.0))[1]:
            for _ in range(desired - len(current)):
                started = self._start_service_task(service)
                if started is None:
                    break
                current.append(started)
        for extra in sorted(current, key=lambda r: r.started_monotonic)[desired:]:
            self.request_stop(extra, "ServiceSchedulerInitiated", scaling)
        if len(current) >= desired:
            # A new task definition: its tasks run, so the old revision's go (a rolling update).
            for old in live:
                if old.task_definition_arn != wanted_td:
                    self.request_stop(old, "ServiceSchedulerInitiated", scaling)
        if len(current) >= desired and service.get("runningCount") != desired:
            self._sync_running_count(service)

    def _sync_running_count(self, service: dict[str, Any]) -> None:
        # moto sets runningCount only from UpdateService, to the desired count it is given. Read
        # the service again right before, so a desiredCount changed meanwhile is not undone.
        try:
            fresh = self.ecs.describe_services(
                cluster=service["clusterArn"], services=[service["serviceName"]]
            )["services"]
            if not fresh or fresh[0].get("desiredCount") != service["desiredCount"]:
                return
            self.ecs.update_service(
                cluster=service["clusterArn"],
                service=service["serviceName"],
                desiredCount=int(service["desiredCount"]),
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "service %s: could not update runningCount: %s",
                service["serviceName"],
                _error_code(exc),
            )

    # --- the loop --------------------------------------------------------------------------

    def _clusters(self) -> list[str]:
        arns: list[str] = []
        for page in self.ecs.get_paginator("list_clusters").paginate():
            arns.extend(page.get("clusterArns", []))
        return arns

    def _wanted(self, cluster_arn: str) -> list[str]:
        arns: list[str] = []
        paginator = self.ecs.get_paginator("list_tasks")
        for page in paginator.paginate(cluster=cluster_arn, desiredStatus="RUNNING"):
            arns.extend(page.get("taskArns", []))
        return arns

    def _active_services(self, cluster_arn: str) -> list[dict[str, Any]]:
        names: list[str] = []
        for page in self.ecs.get_paginator("list_services").paginate(cluster=cluster_arn):
            names.extend(page.get("serviceArns", []))
        services: list[dict[str, Any]] = []
        for chunk in _chunks(names, 10):
            response = self.ecs.describe_services(
                cluster=cluster_arn, services=chunk, include=["TAGS"]
            )
            services.extend(s for s in response.get("services", []) if s.get("status") == "ACTIVE")
        return services

    def run_once(self) -> None:
        """One reconciliation pass: reap, honour StopTask, launch new tasks, keep services."""
        self.hold_task_status()
        wanted: dict[str, str] = {}
        services: list[dict[str, Any]] = []
        for cluster_arn in self._clusters():
            wanted.update(dict.fromkeys(self._wanted(cluster_arn), cluster_arn))
            services.extend(self._active_services(cluster_arn))
        self.reap()
        stopped_by_user = [
            r for r in self.tasks.values() if r.arn not in wanted and r.stop_code is None
        ]
        for record in stopped_by_user:
            # StopTask from elsewhere (Prefect cancelling a run, a user), or the task is gone.
            try:
                found = self._describe(record.cluster_arn, [record.arn])
            except (ClientError, BotoCoreError):
                found = []  # Its cluster is gone too.
            reason = (found[0].get("stoppedReason") if found else None) or "Task stopped by user"
            self.request_stop(record, "UserInitiated", str(reason))
        new: dict[str, list[str]] = {}
        for arn, cluster_arn in wanted.items():
            if arn not in self.tasks and arn not in self.handled:
                new.setdefault(cluster_arn, []).append(arn)
        for cluster_arn, arns in new.items():
            for task in self._describe(cluster_arn, arns):
                if task.get("desiredStatus") != "RUNNING":
                    continue
                group = str(task.get("group", ""))
                # A service's task not started by this run (the runtime restarted): adopt it.
                owner = (cluster_arn, group[8:]) if group.startswith("service:") else None
                self.launch(task, owner)
        active = {(str(s["clusterArn"]), str(s["serviceName"])) for s in services}
        for record in list(self.tasks.values()):
            if record.service and record.service not in active and record.stop_code is None:
                self.request_stop(
                    record, "ServiceSchedulerInitiated", "Service deleted or no longer active"
                )
        for service in services:
            self.reconcile_service(service)
        for record in list(self.tasks.values()):
            self.ship_logs(record)
        self._escalate()
        # A task leaves the RUNNING list for good once stopped: forget it.
        self.handled &= set(wanted) | set(self.tasks)

    def start(self, timeout: float = 30) -> None:
        """Take over task status in moto and clear what a crashed earlier run left behind."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.hold_task_status()
                break
            except httpx.HTTPError as exc:
                if time.monotonic() >= deadline:
                    raise EcsRuntimeError(
                        f"emulated AWS does not answer at {self.endpoint} ({exc}); start it first"
                    ) from None
                time.sleep(1)
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        orphans: dict[str, list[str]] = {}
        for container in self.own_containers():
            labels = container.attrs.get("Labels") or {}
            if labels.get(TASK_LABEL) and labels.get(CLUSTER_LABEL):
                orphans.setdefault(labels[CLUSTER_LABEL], []).append(labels[TASK_LABEL])
            logger.info("removing leftover container %s", container.id[:12])
            with contextlib.suppress(docker.errors.NotFound):
                self.docker.api.remove_container(container.id, force=True)
        reason = "Task stopped: the local ECS runtime restarted and its container was lost"
        for cluster_arn, arns in orphans.items():
            try:
                tasks = self._describe(cluster_arn, arns)
            except (ClientError, BotoCoreError):
                continue  # The cluster is gone (moto restarted): nothing to mark.
            for task in tasks:
                if task.get("desiredStatus") != "RUNNING":
                    continue
                self._stop_in_moto(cluster_arn, str(task["taskArn"]), reason)
                self.emit(
                    task,
                    "STOPPED",
                    [{**self._container_event(task, {}, "STOPPED"), "reason": reason}],
                    stopCode="EssentialContainerExited",
                    stoppedReason=reason,
                    stoppedAt=_iso(datetime.now(UTC)),
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

    def _aws_answers(self) -> bool:
        try:
            # Not /moto-api/data.json: with IAM's managed policies loaded it takes seconds.
            url = f"{self.endpoint}/moto-api/state-manager/get-transition?model_name=ecs::task"
            return httpx.get(url, timeout=3).status_code < 500
        except httpx.HTTPError:
            return False

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
            running = {
                (c.attrs.get("Labels") or {}).get(TASK_LABEL)
                for c in self.own_containers()
                if c.attrs.get("State") not in ("exited", "dead")
            }
            if not running & set(self.tasks):
                break
            time.sleep(0.2)
        if self.tasks and self._aws_answers():
            try:
                self.reap()
            except docker.errors.DockerException as exc:
                logger.warning("could not read container states: %s", exc)
        for record in list(self.tasks.values()):
            # Still here: AWS is down (nothing to tell it) or the container would not die.
            with contextlib.suppress(docker.errors.APIError):
                self.docker.api.remove_container(record.container_id, force=True)
            self.tasks.pop(record.arn, None)
        for container in self.own_containers():
            with contextlib.suppress(docker.errors.APIError):
                self.docker.api.remove_container(container.id, force=True)


def heartbeat_file(settings: BootstrapSettings) -> Path:
    """Touched after every successful pass: `healthy()` reads it."""
    return settings.local_state_dir / "run" / "ecs-runtime.heartbeat"


def healthy(settings: BootstrapSettings, max_age: float = 15.0) -> bool:
    """True if a runtime for these settings completed a pass in the last `max_age` seconds."""
    try:
        return time.time() - heartbeat_file(settings).stat().st_mtime < max_age
    except FileNotFoundError:
        return False


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bootstrap_flows.ecs_runtime",
        description="Run emulated ECS tasks and services as local Docker containers. "
        "Settings come from BOOTSTRAP_* variables and the env file.",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_INTERVAL,
        help=f"seconds between passes (default {DEFAULT_POLL_INTERVAL})",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=DEFAULT_SHUTDOWN_GRACE,
        help="seconds containers get to exit on shutdown before SIGKILL "
        f"(default {DEFAULT_SHUTDOWN_GRACE})",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request at INFO: one per pass would bury what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2

    stop = threading.Event()

    def request_shutdown(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_shutdown)
    signal.signal(signal.SIGINT, request_shutdown)
    try:
        runtime = EcsRuntime(settings, poll_interval=args.poll_interval)
        runtime.start()
    except (EcsRuntimeError, docker_engine.DockerEngineError) as exc:
        print(f"ecs-runtime: {exc}", file=sys.stderr)
        return 1
    heartbeat = heartbeat_file(settings)
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    logger.info("ECS runtime up (instance %s, AWS at %s)", runtime.instance, runtime.endpoint)
    try:
        runtime.run(stop, heartbeat)
    finally:
        runtime.shutdown(args.shutdown_grace)
        heartbeat.unlink(missing_ok=True)
        logger.info("ECS runtime stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
