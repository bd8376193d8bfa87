"""A task, its definition, its overrides and its secrets -> the container spec (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.spec import (
    CLUSTER_LABEL,
    RUNTIME_LABEL,
    TASK_LABEL,
    LogTarget,
    RuntimeFacts,
    check_platform,
    container_environment,
    container_spec,
    local_image_ref,
    named_hosts,
    prefers_local_copy,
    registry_host_of,
    uses_ecr_credentials,
)

DIGEST = "sha256:" + "a" * 64
ECR_IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/prefect-local/worker@{DIGEST}"
LOCAL_IMAGE = f"127.0.0.1:5000/prefect-local/worker@{DIGEST}"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/local"
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/local/0123abcd"
TASK_DEFINITION = "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:3"
FACTS = RuntimeFacts(
    instance="/var/lib/state",
    registry_host="127.0.0.1:5000",
    region="eu-west-1",
    environment={"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5555"},
)


def make_task(
    overrides: dict[str, Any] | None = None, containers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "taskArn": TASK_ARN,
        "clusterArn": CLUSTER,
        "taskDefinitionArn": TASK_DEFINITION,
        "overrides": overrides or {"containerOverrides": []},
        "containers": containers or [{"containerArn": "arn:container", "name": "worker"}],
    }


def make_definition(
    *, containers: list[dict[str, Any]] | None = None, **container: Any
) -> dict[str, Any]:
    base = {"name": "worker", "image": ECR_IMAGE, "command": ["prefect", "worker", "start"]}
    return {
        "family": "worker",
        "revision": 3,
        "memory": "1024",
        "containerDefinitions": containers or [{**base, **container}],
    }


def override(**fields: Any) -> dict[str, Any]:
    return {"containerOverrides": [{"name": "worker", **fields}]}


# (id, task overrides, container definition fields, secrets, expected spec fields)
CASES: list[tuple[str, dict[str, Any] | None, dict[str, Any], dict[str, str], dict[str, Any]]] = [
    (
        "definition as it is",
        None,
        {},
        {},
        {
            "name": "ecs-worker-3-0123abcd",
            "image": LOCAL_IMAGE,
            "task_image": ECR_IMAGE,
            "container_name": "worker",
            "command": ["prefect", "worker", "start"],
            "entrypoint": None,
            "working_dir": None,
            "user": None,
            "network_mode": "host",
            "mem_limit": "1024m",
            "init": False,
            "stop_signal": "SIGTERM",
            "stop_timeout": 30.0,
            "log_target": None,
        },
    ),
    (
        "command override wins",
        override(command=["python", "-m", "flow"]),
        {},
        {},
        {"command": ["python", "-m", "flow"]},
    ),
    (
        "override for another container is ignored",
        {"containerOverrides": [{"name": "sidecar", "command": ["no"], "memory": 64}]},
        {},
        {},
        {"command": ["prefect", "worker", "start"], "mem_limit": "1024m"},
    ),
    (
        "no command anywhere: the image's own",
        None,
        {"command": []},
        {},
        {"command": None},
    ),
    (
        "entry point, working directory, user, init",
        None,
        {
            "entryPoint": ["/entry.sh"],
            "workingDirectory": "/opt/prefect",
            "user": "1000",
            "linuxParameters": {"initProcessEnabled": True},
        },
        {},
        {
            "entrypoint": ["/entry.sh"],
            "working_dir": "/opt/prefect",
            "user": "1000",
            "init": True,
        },
    ),
    ("container memory beats the task's", None, {"memory": 512}, {}, {"mem_limit": "512m"}),
    (
        "container override memory beats the container's",
        override(memory=256),
        {"memory": 512},
        {},
        {"mem_limit": "256m"},
    ),
    (
        "task override memory beats the task's",
        {"containerOverrides": [], "memory": "2048"},
        {},
        {},
        {"mem_limit": "2048m"},
    ),
    ("stop timeout as given", None, {"stopTimeout": 5}, {}, {"stop_timeout": 5.0}),
    ("stop timeout capped at Fargate's", None, {"stopTimeout": 600}, {}, {"stop_timeout": 120.0}),
    (
        "non-ECR image is kept",
        None,
        {"image": "ghcr.io/org/image:tag"},
        {},
        {"image": "ghcr.io/org/image:tag", "task_image": "ghcr.io/org/image:tag"},
    ),
    (
        "awslogs with a prefix",
        None,
        {
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/prefect/worker",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "prefect",
                    "awslogs-create-group": "true",
                },
            }
        },
        {},
        {
            "log_target": LogTarget(
                group="/prefect/worker",
                stream="prefect/worker/0123abcd",
                region="us-east-1",
                create_group=True,
            )
        },
    ),
    (
        "awslogs without a prefix or region",
        None,
        {"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}},
        {},
        {"log_target": LogTarget("g", "0123abcd", "eu-west-1", False)},
    ),
    (
        "another log driver ships nothing",
        None,
        {"logConfiguration": {"logDriver": "json-file", "options": {"awslogs-group": "g"}}},
        {},
        {"log_target": None},
    ),
]


@pytest.mark.parametrize(
    ("task_overrides", "container", "secrets", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_container_spec(
    task_overrides: dict[str, Any] | None,
    container: dict[str, Any],
    secrets: dict[str, str],
    expected: dict[str, Any],
) -> None:
    spec = container_spec(make_task(task_overrides), make_definition(**container), secrets, FACTS)
    assert {field: getattr(spec, field) for field in expected} == expected


def test_environment_has_overrides_secrets_and_where_it_runs() -> None:
    definition = make_definition(
        environment=[
            {"name": "MODE", "value": "definition"},
            {"name": "AWS_REGION", "value": "us-west-2"},
            {"name": "FROM_DEFINITION", "value": "yes"},
            {"name": "API_KEY", "value": "plain"},
        ],
    )
    task = make_task(override(environment=[{"name": "MODE", "value": "override"}, {"name": "X"}]))
    spec = container_spec(task, definition, {"API_KEY": "from-secrets-manager"}, FACTS)
    assert spec.environment == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5555",
        "AWS_REGION": "us-west-2",
        "MODE": "override",
        "FROM_DEFINITION": "yes",
        "X": "",
        "API_KEY": "from-secrets-manager",
        "ECS_TASK_ARN": TASK_ARN,
        "ECS_CONTAINER_IMAGE": ECR_IMAGE,
    }


def test_labels_name_the_runtime_the_task_and_what_ecs_would() -> None:
    spec = container_spec(make_task(), make_definition(), {}, FACTS)
    assert spec.labels == {
        RUNTIME_LABEL: "/var/lib/state",
        TASK_LABEL: TASK_ARN,
        CLUSTER_LABEL: CLUSTER,
        "com.amazonaws.ecs.task-arn": TASK_ARN,
        "com.amazonaws.ecs.cluster": CLUSTER,
        "com.amazonaws.ecs.container-name": "worker",
        "com.amazonaws.ecs.task-definition-family": "worker",
        "com.amazonaws.ecs.task-definition-version": "3",
    }


def test_stop_signal_is_the_images() -> None:
    spec = container_spec(make_task(), make_definition(), {}, FACTS, image_stop_signal="SIGINT")
    assert spec.stop_signal == "SIGINT"


def test_first_essential_container_runs() -> None:
    definition = make_definition(
        containers=[
            {"name": "init", "image": "busybox", "essential": False},
            {"name": "worker", "image": ECR_IMAGE, "command": ["run"]},
            {"name": "sidecar", "image": "envoy", "essential": True},
        ]
    )
    spec = container_spec(make_task(override(command=["cmd"])), definition, {}, FACTS)
    assert (spec.container_name, spec.image, spec.command) == ("worker", LOCAL_IMAGE, ["cmd"])


def test_only_non_essential_containers_run_the_first() -> None:
    definition = make_definition(
        containers=[
            {"name": "a", "image": "a:1", "essential": False},
            {"name": "b", "image": "b:1", "essential": False},
        ]
    )
    assert container_spec(make_task(), definition, {}, FACTS).container_name == "a"


def test_a_definition_without_containers_fails_the_launch() -> None:
    definition = {"family": "empty", "containerDefinitions": []}
    with pytest.raises(LaunchError, match="^TaskFailedToStart: the task definition has no"):
        container_spec(make_task(), definition, {}, FACTS)


def test_ecr_uris_move_to_the_local_registry() -> None:
    assert local_image_ref(ECR_IMAGE, "127.0.0.1:5000") == LOCAL_IMAGE
    assert local_image_ref(ECR_IMAGE, None) == ECR_IMAGE
    china = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/repo:1"
    assert local_image_ref(china, "127.0.0.1:5000") == "127.0.0.1:5000/repo:1"
    for other in ("127.0.0.1:5000/repo:1", "python:3.11", "ghcr.io/org/image:tag"):
        assert local_image_ref(other, "127.0.0.1:5000") == other
    assert registry_host_of("127.0.0.1:5000/repo@" + DIGEST) == "127.0.0.1:5000"
    assert registry_host_of("localhost/repo") == "localhost"
    assert registry_host_of("bootstrap-flows/base:bookworm-py3") is None
    assert registry_host_of("python") is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", True),
        ("127.0.0.1:5000", True),  # the registry standing in for ECR
        ("ghcr.io", False),
        ("127.0.0.1:5001", False),
        (None, False),
    ],
)
def test_ecr_credentials_only_for_ecr_and_its_stand_in(host: str | None, expected: bool) -> None:
    assert uses_ecr_credentials(host, "127.0.0.1:5000") is expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (LOCAL_IMAGE, True),  # digest-pinned: cannot have changed
        ("bootstrap-flows/base:bookworm-py3", True),  # Docker Hub-style: unreachable here
        ("python", True),
        ("127.0.0.1:5000/prefect-local/worker:latest", False),  # a registry tag: pulled
    ],
)
def test_which_images_are_used_when_present(ref: str, expected: bool) -> None:
    assert prefers_local_copy(ref) is expected


def test_environment_precedence() -> None:
    env = container_environment(
        {"AWS_REGION": "us-east-1", "MODE": "base"},
        {
            "image": "repo@sha256:abc",
            "environment": [{"name": "MODE", "value": "definition"}, {"name": "A", "value": "1"}],
        },
        {"environment": [{"name": "MODE", "value": "override"}]},
        {"SECRET": "s"},
        "arn:task",
    )
    assert env == {
        "AWS_REGION": "us-east-1",
        "MODE": "override",
        "A": "1",
        "SECRET": "s",
        "ECS_TASK_ARN": "arn:task",
        "ECS_CONTAINER_IMAGE": "repo@sha256:abc",
    }


def test_secret_values_stay_out_of_the_specs_repr() -> None:
    spec = container_spec(make_task(), make_definition(), {"API_KEY": "s3cr3t-value"}, FACTS)
    assert spec.environment["API_KEY"] == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(spec)


# --- extra hosts: emulated RDS endpoints -----------------------------------------------------

DB_HOST = "server.aaaaaaaaaa.us-east-1.rds.amazonaws.com"
OTHER_DB_HOST = "other.aaaaaaaaaa.us-east-1.rds.amazonaws.com"
HOSTS_FACTS = replace(FACTS, extra_hosts={DB_HOST: "127.0.0.1", OTHER_DB_HOST: "127.0.0.1"})


@pytest.mark.parametrize(
    ("task_overrides", "container", "secrets"),
    [
        (None, {"environment": [{"name": "PREFECT_SERVER_DATABASE_HOST", "value": DB_HOST}]}, {}),
        (None, {}, {"DATABASE_URL": f"postgresql+asyncpg://u:p@{DB_HOST}:15432/prefect"}),
        (override(command=["psql", "-h", DB_HOST.upper()]), {}, {}),
        (None, {"entryPoint": ["sh", "-c", f"wait-for {DB_HOST}:5432 && exec prefect"]}, {}),
        (override(environment=[{"name": "HOST", "value": f"{DB_HOST}."}]), {}, {}),
    ],
    ids=["environment", "secret", "command, any case", "entry point", "trailing dot"],
)
def test_a_container_gets_the_hosts_it_names(
    task_overrides: dict[str, Any] | None, container: dict[str, Any], secrets: dict[str, str]
) -> None:
    spec = container_spec(
        make_task(task_overrides), make_definition(**container), secrets, HOSTS_FACTS
    )
    assert spec.extra_hosts == {DB_HOST: "127.0.0.1"}


@pytest.mark.parametrize(
    "value",
    ["nothing", f"my{DB_HOST}", f"{DB_HOST}-replica", f"x.{DB_HOST}", "server.aaaaaaaaaa"],
)
def test_a_container_that_names_no_host_gets_none(value: str) -> None:
    definition = make_definition(environment=[{"name": "HOST", "value": value}])
    assert container_spec(make_task(), definition, {}, HOSTS_FACTS).extra_hosts == {}


def test_without_extra_hosts_nothing_changes() -> None:
    definition = make_definition(environment=[{"name": "HOST", "value": DB_HOST}])
    assert container_spec(make_task(), definition, {}, FACTS).extra_hosts == {}
    assert named_hosts({}, {"HOST": DB_HOST}, None, None) == {}


@pytest.mark.parametrize(
    ("runtime_platform", "image_architecture", "platform"),
    [
        (None, "arm64", "linux/amd64"),  # Fargate's default is X86_64
        ({"cpuArchitecture": "X86_64"}, "arm64", "linux/amd64"),
        ({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}, "amd64", "linux/arm64/v8"),
    ],
)
def test_an_image_of_another_architecture_stops_the_task_as_on_fargate(
    runtime_platform: dict[str, str] | None, image_architecture: str, platform: str
) -> None:
    definition = make_definition()
    if runtime_platform is not None:
        definition["runtimePlatform"] = runtime_platform
    with pytest.raises(LaunchError) as caught:
        check_platform(definition, LOCAL_IMAGE, image_architecture)
    reason = str(caught.value)
    assert reason.startswith(
        "CannotPullContainerError: pull image manifest has been retried 1 time(s): image "
        f"Manifest does not contain descriptor matching platform '{platform}' (image "
        f"{LOCAL_IMAGE} is linux/{image_architecture}"
    )
    assert "exec format error" in reason


def test_an_image_of_the_tasks_architecture_runs() -> None:
    check_platform(make_definition(), LOCAL_IMAGE, "amd64")
    arm = {**make_definition(), "runtimePlatform": {"cpuArchitecture": "ARM64"}}
    check_platform(arm, LOCAL_IMAGE, "arm64")
