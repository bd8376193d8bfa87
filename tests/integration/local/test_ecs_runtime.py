"""The local ECS runtime against a real moto server and a real Docker engine.

Each test starts moto on a free port and the runtime as its own process (as the local stack
does), and stops both by PID. They need dockerd (scripts/install-docker.sh): a missing engine
fails them. The probe image is the project's Debian base plus tests/fixtures/ecs_runtime. The
harness is tests/support/ecs_runtime.py; its fixtures are in conftest.py beside this file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import docker
import docker.errors
import pytest

from bootstrap_flows.aws_side.clients import ecr_login
from bootstrap_flows.config.settings import load_settings
from bootstrap_local import database, processes, registry, stack
from bootstrap_local.ecs_runtime.spec import CLUSTER_LABEL, RUNTIME_LABEL, TASK_LABEL
from bootstrap_local.settings import load_local_settings
from tests.support.ecs_runtime import SLEEP, Emulated, Runtime, wait_for
from tests.support.ports import free_port


@pytest.mark.slow
def test_service_keeps_its_desired_count(aws: Emulated, runtime: Runtime, probe_image: str) -> None:
    td = aws.task_definition("worker", probe_image, stopTimeout=5)
    aws.ecs.create_service(
        cluster=aws.cluster,
        serviceName="worker",
        taskDefinition=td,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=aws.network,
    )
    runtime.start()

    first = wait_for(lambda: runtime.containers(), 60, "the service's container")
    assert len(first) == 1
    first_arn = first[0].labels[TASK_LABEL]
    task = aws.task(first_arn)
    assert (task["group"], task["startedBy"], task["lastStatus"]) == (
        "service:worker",
        "worker",
        "RUNNING",
    )
    assert first[0].labels[CLUSTER_LABEL] == aws.cluster
    assert first[0].attrs["HostConfig"]["NetworkMode"] == "host"
    wait_for(
        lambda: (
            aws.ecs.describe_services(cluster=aws.cluster, services=["worker"])["services"][0][
                "runningCount"
            ]
            == 1
        ),
        20,
        "runningCount 1",
    )

    # A container that dies is replaced by a new task, and its own task stops with its code.
    first[0].kill()
    replaced = wait_for(
        lambda: [c for c in runtime.containers() if c.labels[TASK_LABEL] != first_arn],
        60,
        "a replacement container",
    )
    assert len(replaced) == 1
    assert len(runtime.containers()) == 1
    old = wait_for(lambda: aws.stopped(first_arn), 20, "the dead task STOPPED")
    assert old["stoppedReason"] == "Essential container in task exited (exit code 137)"
    event = wait_for(lambda: aws.stopped_event(first_arn), 20, "the STOPPED event")
    assert event["detail"]["containers"][0]["exitCode"] == 137
    assert event["detail"]["stopCode"] == "EssentialContainerExited"

    # A new revision rolls out: its task starts, the old revision's stops. moto keeps the
    # family name UpdateService was given, not the revision's ARN.
    replaced_arn = replaced[0].labels[TASK_LABEL]
    revision = aws.task_definition("worker", probe_image, stopTimeout=5)
    aws.ecs.update_service(cluster=aws.cluster, service="worker", taskDefinition="worker")

    def rolled() -> list[Any] | None:
        found = runtime.containers()
        arns = [c.labels[TASK_LABEL] for c in found]
        return found if len(found) == 1 and replaced_arn not in arns else None

    rolled_out = wait_for(rolled, 60, "the new revision's task replacing the old")
    second_arn = rolled_out[0].labels[TASK_LABEL]
    assert aws.task(second_arn)["taskDefinitionArn"] == revision
    assert aws.task(replaced_arn)["stoppedReason"].startswith("Scaling activity")

    # Desired count 0 stops it; the task says why.
    aws.ecs.update_service(cluster=aws.cluster, service="worker", desiredCount=0)
    wait_for(lambda: not runtime.containers(running_only=False), 30, "no containers")
    second = wait_for(lambda: aws.stopped(second_arn), 10, "the scaled-in task STOPPED")
    assert second["stoppedReason"].startswith("Scaling activity initiated by (deployment")
    stopped = wait_for(lambda: aws.stopped_event(second_arn), 10, "its STOPPED event")
    assert stopped["detail"]["stopCode"] == "ServiceSchedulerInitiated"
    # A SIGTERM the probe handles: a clean exit, not a kill.
    assert stopped["detail"]["containers"][0]["exitCode"] == 0
    aws.ecs.delete_service(cluster=aws.cluster, service="worker")


@pytest.mark.slow
def test_run_task_gets_overrides_secrets_logs_and_events(
    aws: Emulated, runtime: Runtime, probe_image: str
) -> None:
    api_secret = secrets.token_urlsafe(24)
    json_secret = secrets.token_urlsafe(24)
    api_arn = aws.secrets.create_secret(Name="probe-api", SecretString=api_secret)["ARN"]
    json_arn = aws.secrets.create_secret(
        Name="probe-json", SecretString=json.dumps({"user": "u", "password": json_secret})
    )["ARN"]
    aws.logs.create_log_group(logGroupName="probe-logs")
    td = aws.task_definition(
        "probe",
        probe_image,
        environment=[
            {"name": "MODE", "value": "definition"},
            {"name": "FROM_DEFINITION", "value": "yes"},
            {"name": "API_SECRET_SHA256", "value": hashlib.sha256(api_secret.encode()).hexdigest()},
            {
                "name": "JSON_SECRET_SHA256",
                "value": hashlib.sha256(json_secret.encode()).hexdigest(),
            },
        ],
        secrets=[
            {"name": "API_SECRET", "valueFrom": api_arn},
            {"name": "JSON_SECRET", "valueFrom": f"{json_arn}:password::"},
        ],
        logConfiguration={
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "probe-logs",
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "prefect",
            },
        },
    )
    runtime.start()
    # As the Prefect ECS worker submits a flow run: command and environment overridden.
    arn = aws.run_task(
        td,
        overrides={
            "containerOverrides": [
                {
                    "name": "probe",
                    "command": ["python3", "/probe.py", "check"],
                    "environment": [
                        {"name": "MODE", "value": "override"},
                        {"name": "EXPECTED_EXIT", "value": "7"},
                    ],
                }
            ]
        },
        tags=[{"key": "prefect.io/flow-run-id", "value": str(uuid.uuid4())}],
    )

    task = wait_for(lambda: aws.stopped(arn), 60, "the task to run and stop")
    assert task["stoppedReason"] == "Essential container in task exited (exit code 7)"

    task_id = arn.rsplit("/", 1)[-1]
    stream = f"prefect/probe/{task_id}"
    lines = [
        e["message"]
        for e in aws.logs.get_log_events(
            logGroupName="probe-logs", logStreamName=stream, startFromHead=True
        )["events"]
    ]
    # stdout and stderr are separate pipes: their relative order is not guaranteed.
    assert sorted(lines) == sorted([f"task {arn}", "all checks passed", "a line on stderr"])

    event = wait_for(lambda: aws.stopped_event(arn), 20, "the STOPPED event in SQS")
    statuses = [m["detail"]["lastStatus"] for m in aws.task_events(arn)]
    assert statuses == ["PENDING", "RUNNING", "STOPPED"]
    assert event["source"] == "aws.ecs"
    assert event["detail-type"] == "ECS Task State Change"
    assert event["resources"] == [arn]
    uuid.UUID(event["id"])  # The Prefect observer turns it into a Prefect event ID.
    detail = event["detail"]
    assert detail["clusterArn"] == aws.cluster
    assert detail["taskDefinitionArn"] == td
    assert detail["stopCode"] == "EssentialContainerExited"
    assert detail["stoppedReason"] == task["stoppedReason"]
    assert detail["containers"][0]["name"] == "probe"
    assert detail["containers"][0]["exitCode"] == 7
    assert detail["containers"][0]["lastStatus"] == "STOPPED"

    # The container is gone, and no secret was written anywhere the runtime writes.
    assert not runtime.containers(running_only=False)
    output = runtime.log.read_text()
    for value in (api_secret, json_secret):
        assert value not in output
        assert all(value not in line for line in lines)


@pytest.mark.slow
def test_stop_task_and_a_task_that_cannot_start(
    aws: Emulated, runtime: Runtime, probe_image: str
) -> None:
    runtime.start()
    sleeper = aws.run_task(aws.task_definition("sleeper", probe_image, stopTimeout=5))
    container = wait_for(lambda: runtime.container_of(sleeper), 60, "the sleeper's container")
    # Its SIGTERM handler is set once it says so: before that, as PID 1, it would ignore the
    # signal and be killed after the stop timeout (exit code 137, on a machine under load).
    wait_for(lambda: b"started" in container.logs(), 60, "the sleeper's first line")
    # As Prefect does when a flow run is cancelled.
    aws.ecs.stop_task(cluster=aws.cluster, task=sleeper, reason="Cancelled by the test")
    wait_for(lambda: not runtime.containers(running_only=False), 20, "the container to go")
    event = wait_for(lambda: aws.stopped_event(sleeper), 20, "the STOPPED event")
    assert event["detail"]["stopCode"] == "UserInitiated"
    assert event["detail"]["stoppedReason"] == "Cancelled by the test"
    assert event["detail"]["containers"][0]["exitCode"] == 0

    missing = "127.0.0.1:1/nothing-here@sha256:" + "0" * 64
    broken = aws.run_task(aws.task_definition("broken", missing))
    task = wait_for(lambda: aws.stopped(broken), 60, "the unpullable task STOPPED")
    assert task["stoppedReason"].startswith("CannotPullContainerError: pull of 127.0.0.1:1/")
    failed = wait_for(lambda: aws.stopped_event(broken), 20, "its STOPPED event")
    assert failed["detail"]["stopCode"] == "TaskFailedToStart"
    assert "exitCode" not in failed["detail"]["containers"][0]
    assert not runtime.containers(running_only=False)


@pytest.mark.slow
def test_a_task_whose_image_is_of_another_architecture_does_not_run(
    aws: Emulated, runtime: Runtime, probe_image: str
) -> None:
    # This machine would run the amd64 probe as an ARM64 task: Fargate would not.
    runtime.start()
    container = {"name": "graviton", "image": probe_image, "memory": 512, "command": SLEEP}
    definition = aws.ecs.register_task_definition(
        family="graviton",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]
    arn = aws.run_task(definition)
    task = wait_for(lambda: aws.stopped(arn), 60, "the ARM64 task STOPPED")
    assert task["stoppedReason"].startswith(
        "CannotPullContainerError: pull image manifest has been retried 1 time(s): image "
        "Manifest does not contain descriptor matching platform 'linux/arm64/v8' (image "
        f"{probe_image} is linux/amd64"
    )
    event = wait_for(lambda: aws.stopped_event(arn), 20, "its STOPPED event")
    assert event["detail"]["stopCode"] == "TaskFailedToStart"
    assert not runtime.containers(running_only=False), "nothing may have run"


def _scratch_context() -> io.BytesIO:
    # No runnable static binary exists on these machines: an image whose start fails proves
    # the pull, and costs a few bytes of registry storage.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (
            ("Dockerfile", b'FROM scratch\nCOPY marker /marker\nCMD ["/marker"]\n'),
            ("marker", uuid.uuid4().hex.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


@pytest.mark.slow
def test_ecr_image_is_pulled_from_the_local_registry_with_ecr_credentials(
    aws: Emulated, endpoint: str, tmp_path: Path, engine: docker.DockerClient
) -> None:
    port = free_port()
    runtime = Runtime(endpoint, tmp_path / "state", engine, BOOTSTRAP_LOCAL_REGISTRY_PORT=str(port))
    settings = load_settings(environment="local", aws_endpoint_url=endpoint)
    local = load_local_settings(state_dir=tmp_path / "state", registry_port=port)
    host = registry.registry_up(settings, local)
    built_ref = f"{host}/ecs-runtime-scratch:{uuid.uuid4().hex[:8]}"
    pulled = f"{host}/ecs-runtime-scratch"
    try:
        built, _ = engine.images.build(
            fileobj=_scratch_context(), custom_context=True, tag=built_ref, rm=True
        )
        ecr = boto3.client(
            "ecr",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        login = ecr_login(ecr)
        for event in engine.api.push(
            built_ref,
            stream=True,
            decode=True,
            auth_config={"username": login.user, "password": login.password},
        ):
            assert "error" not in event, event
        digest = engine.images.get(built_ref).attrs["RepoDigests"][0].split("@", 1)[1]
        # Gone from the engine: the runtime must pull it, through the ECR URI's rewrite.
        engine.images.remove(built.id, force=True)
        ecr_uri = f"{aws.account}.dkr.ecr.us-east-1.amazonaws.com/ecs-runtime-scratch@{digest}"
        runtime.start()
        arn = aws.run_task(aws.task_definition("scratch", ecr_uri, command=["/marker"]))
        task = wait_for(lambda: aws.stopped(arn), 60, "the scratch task STOPPED")
        # Pulled (else CannotPullContainerError), then refused to start: nothing to execute.
        assert task["stoppedReason"].startswith("CannotStartContainerError"), task
        pulled = f"{host}/ecs-runtime-scratch@{digest}"
        engine.images.get(pulled)
        assert login.password not in runtime.log.read_text()
    finally:
        if runtime.process is not None:
            runtime.stop()
        registry.registry_down(local)
        for ref in (built_ref, pulled):
            with contextlib.suppress(docker.errors.ImageNotFound):
                engine.images.remove(ref, force=True)


@pytest.mark.slow
def test_shutdown_stops_its_containers_only_and_start_clears_leftovers(
    aws: Emulated, runtime: Runtime, engine: docker.DockerClient, probe_image: str
) -> None:
    td = aws.task_definition("sleeper", probe_image, stopTimeout=5)
    unrelated = engine.containers.run(probe_image, SLEEP, detach=True, network_mode="host")
    # What a crashed runtime leaves: a task RUNNING in moto, its container still labelled.
    orphan = aws.run_task(td)
    leftover = engine.containers.run(
        probe_image,
        SLEEP,
        detach=True,
        labels={RUNTIME_LABEL: runtime.instance, TASK_LABEL: orphan, CLUSTER_LABEL: aws.cluster},
    )
    try:
        runtime.start()
        with pytest.raises(docker.errors.NotFound):
            leftover.reload()
        lost = wait_for(lambda: aws.stopped(orphan), 10, "the orphaned task STOPPED")
        assert "restarted" in lost["stoppedReason"]

        aws.ecs.create_service(
            cluster=aws.cluster,
            serviceName="pair",
            taskDefinition=td,
            desiredCount=2,
            launchType="FARGATE",
            networkConfiguration=aws.network,
        )
        single = aws.run_task(td)
        running = wait_for(
            lambda: len(runtime.containers()) == 3 and runtime.containers(), 60, "3 containers"
        )
        arns = [c.labels[TASK_LABEL] for c in running]
        assert single in arns

        started = time.monotonic()
        assert runtime.stop() == 0
        assert time.monotonic() - started < 20
        assert not runtime.containers(running_only=False)
        unrelated.reload()
        assert unrelated.status == "running"
        for arn in arns:
            task = aws.task(arn)
            assert task["lastStatus"] == "STOPPED", task
            assert task["stoppedReason"] == "Task stopped: the local ECS runtime shut down"
            assert aws.stopped_event(arn), f"no STOPPED event for {arn}"
        assert not os.path.exists(runtime.local.state_dir / "run" / "ecs-runtime.heartbeat")
    finally:
        unrelated.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            leftover.remove(force=True)


# A task that names its database the way the server stack's does: it resolves the endpoint to
# this machine and reaches PostgreSQL there; exit 5 says every check passed.
DATABASE_PROBE = """
import os, socket, sys
host, port = os.environ["DATABASE_HOST"], int(os.environ["DATABASE_PORT"])
assert socket.gethostbyname(host) == "127.0.0.1", socket.gethostbyname(host)
assert os.environ["DATABASE_USER"] and os.environ["DATABASE_PASSWORD"]
socket.create_connection((host, port), timeout=5).close()
sys.exit(5)
"""


@pytest.mark.slow
def test_a_task_naming_an_rds_endpoint_reaches_the_local_postgres(
    aws: Emulated, runtime: Runtime, endpoint: str, probe_image: str
) -> None:
    port = free_port()
    runtime.env["BOOTSTRAP_LOCAL_POSTGRES_PORT"] = str(port)
    settings = load_settings(environment="local", aws_endpoint_url=endpoint)
    local = load_local_settings(state_dir=runtime.state, postgres_port=port)
    rds = boto3.client(
        "rds",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    instance = rds.create_db_instance(
        DBInstanceIdentifier="server",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        DBName="prefect",
        MasterUsername="prefect",
        ManageMasterUserPassword=True,
        Port=port,
    )["DBInstance"]
    secret = instance["MasterUserSecret"]["SecretArn"]
    td = aws.task_definition(
        "server",
        probe_image,
        command=["python3", "-c", DATABASE_PROBE],
        environment=[
            {"name": "DATABASE_HOST", "value": instance["Endpoint"]["Address"]},
            {"name": "DATABASE_PORT", "value": str(port)},
        ],
        secrets=[
            {"name": "DATABASE_USER", "valueFrom": f"{secret}:username::"},
            {"name": "DATABASE_PASSWORD", "valueFrom": f"{secret}:password::"},
        ],
    )
    other = aws.task_definition("other", probe_image, command=["python3", "-c", "exit(6)"])
    try:
        assert stack.start_postgres(local, stack.child_env(settings, local))
        runtime.start()
        probe = aws.run_task(td)
        reached = wait_for(lambda: aws.stopped(probe), 60, "the database probe")
        assert reached["stoppedReason"] == "Essential container in task exited (exit code 5)"
    finally:
        processes.stop(runtime.state, database.SERVICE)

    # Without PostgreSQL, a task naming the endpoint cannot start and says why; others run.
    refused = aws.run_task(td)
    failed = wait_for(lambda: aws.stopped(refused), 60, "the probe to fail to start")
    assert failed["stoppedReason"].startswith("ResourceInitializationError: database server: ")
    assert "does not answer" in failed["stoppedReason"]
    other_arn = aws.run_task(other)
    unrelated = wait_for(lambda: aws.stopped(other_arn), 60, "the other task")
    assert unrelated["stoppedReason"] == "Essential container in task exited (exit code 6)"
