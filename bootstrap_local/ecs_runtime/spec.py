"""The container an ECS task gets, worked out without Docker or AWS.

`container_spec` turns a task (with its overrides), its task definition, the resolved values of
its secrets and a few facts about this machine into a `ContainerSpec`: everything Docker needs
to run the container and everything the runtime needs to stop it and ship its logs. Every rule
of that translation lives here, so it is tested without a Docker engine or an AWS;
`executor.py` runs the spec as it is.

Only the first essential container of a task definition runs (Prefect's tasks have one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# From limits, not the image package: the runtime and the CLI must not import Prefect.
from bootstrap_flows.config.limits import DOCKER_ARCHITECTURE
from bootstrap_local.ecs_runtime.errors import LaunchError

RUNTIME_LABEL = "org.bootstrap-flows.ecs-runtime"
TASK_LABEL = "org.bootstrap-flows.ecs-task-arn"
CLUSTER_LABEL = "org.bootstrap-flows.ecs-cluster-arn"
# ECS's default and largest stopTimeout on Fargate.
DEFAULT_STOP_TIMEOUT = 30
MAX_STOP_TIMEOUT = 120
# Docker's default when the image names no STOPSIGNAL.
DEFAULT_STOP_SIGNAL = "SIGTERM"
# Host network: the container reaches moto and the Prefect server on 127.0.0.1.
NETWORK_MODE = "host"

ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def task_id(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]


# --- images --------------------------------------------------------------------------------


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


def uses_ecr_credentials(host: str | None, registry_host: str | None) -> bool:
    """ECR hosts and the registry standing in for ECR take ECR's credentials; others none."""
    return host is not None and (host == registry_host or bool(ECR_HOST.match(host)))


def prefers_local_copy(ref: str) -> bool:
    """Whether an image already in the engine is used as it is instead of pulled.

    Digest-pinned images cannot change and Docker Hub is unreachable here, so those are used
    when present; tags on a registry are pulled, as Fargate does.
    """
    return "@sha256:" in ref or registry_host_of(ref) is None


def task_architecture(definition: dict[str, Any]) -> str:
    """The task definition's runtimePlatform.cpuArchitecture; Fargate's default is X86_64."""
    return str((definition.get("runtimePlatform") or {}).get("cpuArchitecture") or "X86_64")


def check_platform(definition: dict[str, Any], image: str, image_architecture: str) -> None:
    """Refuse to run an image of another architecture than the task's, as Fargate does.

    This machine would run it anyway (the other way round, or under QEMU), which is how an
    image that dies on Fargate passed locally. Fargate's words are those of its pull, which
    matches the platform (`linux/arm64/v8` for ARM64); a single-platform image gets past the
    pull there and its container exits with code 1, `exec format error` in its log: the reason
    here says what that log would.
    """
    wanted = task_architecture(definition)
    docker_architecture = DOCKER_ARCHITECTURE.get(wanted, wanted.lower())
    if image_architecture == docker_architecture:
        return
    platform = "linux/arm64/v8" if wanted == "ARM64" else f"linux/{docker_architecture}"
    raise LaunchError(
        "CannotPullContainerError: pull image manifest has been retried 1 time(s): image "
        f"Manifest does not contain descriptor matching platform '{platform}' (image {image} "
        f"is linux/{image_architecture}, the task definition's runtimePlatform.cpuArchitecture "
        f"is {wanted}: run as it is, it would exit with `exec format error`)"
    )


# --- secrets and environment ---------------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    """A parsed `secrets[].valueFrom`: a Secrets Manager secret (optionally one JSON key,
    version stage or version ID) or an SSM parameter."""

    service: str  # "secretsmanager" or "ssm"
    name: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None

    @property
    def region(self) -> str | None:
        """The region an ARN names; None for a bare name (the runtime's own region)."""
        return self.name.split(":")[3] if self.name.startswith("arn:") else None


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


# --- logs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogTarget:
    """The CloudWatch Logs stream ECS's awslogs driver would write the container's output to."""

    group: str
    stream: str
    region: str
    create_group: bool


def log_target(container: dict[str, Any], task_arn: str, default_region: str) -> LogTarget | None:
    """Where the container's output goes; None unless it uses the awslogs driver with a group."""
    config = container.get("logConfiguration") or {}
    options = config.get("options") or {}
    if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return None
    prefix = options.get("awslogs-stream-prefix")
    # ECS's stream name; Fargate requires a prefix, without one the task ID stands in.
    stream = f"{prefix}/{container['name']}/{task_id(task_arn)}" if prefix else task_id(task_arn)
    return LogTarget(
        group=str(options["awslogs-group"]),
        stream=stream,
        region=str(options.get("awslogs-region") or default_region),
        create_group=str(options.get("awslogs-create-group", "")).lower() == "true",
    )


# --- the spec ------------------------------------------------------------------------------


def essential_container(definition: dict[str, Any]) -> dict[str, Any]:
    """The container definition that runs: the first essential one (or the first of all)."""
    containers: list[dict[str, Any]] = definition.get("containerDefinitions") or []
    essential = [c for c in containers if c.get("essential", True)] or containers
    if not essential:
        raise LaunchError("TaskFailedToStart: the task definition has no container")
    return essential[0]


def container_override(task: dict[str, Any], name: str) -> dict[str, Any]:
    """The task's `containerOverrides` entry for container `name`, empty when it has none."""
    overrides = (task.get("overrides") or {}).get("containerOverrides") or []
    return next((dict(item) for item in overrides if item.get("name") == name), {})


@dataclass(frozen=True)
class RuntimeFacts:
    """What the spec needs to know about the machine and the runtime it runs on."""

    instance: str  # this runtime's label value: shutdown touches only containers with it
    registry_host: str | None  # the registry standing in for ECR's
    region: str  # the awslogs region when the definition names none
    environment: dict[str, str]  # what a task role would give: AWS endpoint, credentials, region
    # Names this machine answers for (emulated RDS endpoints -> the local PostgreSQL's address).
    extra_hosts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerSpec:
    """Everything to run, stop and follow one task's container; `executor.py` runs it."""

    name: str  # the Docker container's name
    image: str  # the reference to pull and run (ECR URIs moved to the local registry)
    command: list[str] | None
    entrypoint: list[str] | None
    # Holds the secrets' values: kept out of repr, so logging a spec cannot show them.
    environment: dict[str, str] = field(repr=False)
    working_dir: str | None
    user: str | None
    network_mode: str
    mem_limit: str | None
    init: bool
    labels: dict[str, str]
    stop_signal: str
    stop_timeout: float
    log_target: LogTarget | None
    container_name: str  # the container definition's name, as events report it
    task_image: str  # the image as the task definition names it, as events report it
    # /etc/hosts entries: the runtime's extra hosts that the container names.
    extra_hosts: dict[str, str] = field(default_factory=dict)


def _names_host(host: str, texts: list[str]) -> bool:
    # A whole host name only: `db.x.rds...` is not named by `mydb.x.rds...`; DNS ignores case.
    pattern = re.compile(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", re.IGNORECASE)
    return any(pattern.search(text) for text in texts)


def named_hosts(
    hosts: dict[str, str],
    environment: dict[str, str],
    command: list[str] | None,
    entrypoint: list[str] | None,
) -> dict[str, str]:
    """The entries of `hosts` whose name appears in the container's environment values (its
    secrets included), command or entry point: a container that names none is left as it is."""
    texts = [*environment.values(), *(command or []), *(entrypoint or [])]
    return {host: address for host, address in hosts.items() if _names_host(host, texts)}


def _memory_limit(
    task: dict[str, Any],
    definition: dict[str, Any],
    container: dict[str, Any],
    override: dict[str, Any],
) -> str | None:
    # The most specific memory setting wins: container override, container, task override, task.
    memory = (
        override.get("memory")
        or container.get("memory")
        or (task.get("overrides") or {}).get("memory")
        or definition.get("memory")
    )
    return f"{int(memory)}m" if memory else None


def _labels(
    task: dict[str, Any], definition: dict[str, Any], container_name: str, instance: str
) -> dict[str, str]:
    arn, cluster = str(task["taskArn"]), str(task["clusterArn"])
    return {
        RUNTIME_LABEL: instance,
        TASK_LABEL: arn,
        CLUSTER_LABEL: cluster,
        # The labels the real ECS agent puts on its containers.
        "com.amazonaws.ecs.task-arn": arn,
        "com.amazonaws.ecs.cluster": cluster,
        "com.amazonaws.ecs.container-name": container_name,
        "com.amazonaws.ecs.task-definition-family": str(definition.get("family", "task")),
        "com.amazonaws.ecs.task-definition-version": str(definition.get("revision", "")),
    }


def container_spec(
    task: dict[str, Any],
    definition: dict[str, Any],
    secrets: dict[str, str],
    facts: RuntimeFacts,
    image_stop_signal: str = DEFAULT_STOP_SIGNAL,
) -> ContainerSpec:
    """The container of `task`: its definition's essential container with the task's overrides,
    `secrets` (name -> resolved value) as environment, and the image's own stop signal."""
    container = essential_container(definition)
    name = str(container["name"])
    override = container_override(task, name)
    arn = str(task["taskArn"])
    family = str(definition.get("family", "task"))
    command = override.get("command") or container.get("command") or None
    entrypoint = container.get("entryPoint") or None
    environment = container_environment(facts.environment, container, override, secrets, arn)
    return ContainerSpec(
        name=f"ecs-{family}-{definition.get('revision', 0)}-{task_id(arn)}",
        image=local_image_ref(str(container["image"]), facts.registry_host),
        command=command,
        entrypoint=entrypoint,
        environment=environment,
        working_dir=container.get("workingDirectory") or None,
        user=container.get("user") or None,
        network_mode=NETWORK_MODE,
        mem_limit=_memory_limit(task, definition, container, override),
        init=bool((container.get("linuxParameters") or {}).get("initProcessEnabled")),
        labels=_labels(task, definition, name, facts.instance),
        stop_signal=image_stop_signal,
        stop_timeout=min(
            float(container.get("stopTimeout") or DEFAULT_STOP_TIMEOUT), MAX_STOP_TIMEOUT
        ),
        log_target=log_target(container, arn, facts.region),
        container_name=name,
        task_image=str(container["image"]),
        extra_hosts=named_hosts(facts.extra_hosts, environment, command, entrypoint),
    )
