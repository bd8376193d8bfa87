"""The local ECS runtime's test harness: a moto of the test's own, boto3 clients and the ECS
pieces the tests build from them, the runtime as its own process, and the probe image.

The fixtures that hand these to tests are in tests/integration/local/conftest.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
import docker
import docker.errors

from bootstrap_flows import image
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_local.ecs_runtime import roles
from bootstrap_local.ecs_runtime.runtime import healthy
from bootstrap_local.ecs_runtime.spec import RUNTIME_LABEL, TASK_LABEL
from bootstrap_local.settings import load_local_settings
from tests.support.samples import observer_queue_policy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ecs_runtime"
LOG = logging.getLogger("test_ecs_runtime")
SLEEP = ["python3", "/probe.py", "sleep"]
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.3)


def probe_image(engine: docker.DockerClient) -> str:
    """The probe image, built once per content and kept (one small layer on the base)."""
    try:
        engine.images.get(image.FALLBACK_BASE)
    except docker.errors.ImageNotFound:
        image.ensure_fallback_base(LOG, engine)
    content = hashlib.sha256()
    for name in ("Dockerfile", "probe.py"):
        content.update((FIXTURES / name).read_bytes())
    tag = f"bootstrap-flows-test/ecs-runtime-probe:{content.hexdigest()[:12]}"
    try:
        engine.images.get(tag)
    except docker.errors.ImageNotFound:
        engine.images.build(
            path=str(FIXTURES), tag=tag, buildargs={"BASE_IMAGE": image.FALLBACK_BASE}, rm=True
        )
    return tag


class Emulated:
    """boto3 clients of the test's moto, and the ECS pieces the tests build from them."""

    def __init__(self, endpoint: str) -> None:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        self.ecs = session.client("ecs", endpoint_url=endpoint)
        self.ec2 = session.client("ec2", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.events = session.client("events", endpoint_url=endpoint)
        self.logs = session.client("logs", endpoint_url=endpoint)
        self.secrets = session.client("secretsmanager", endpoint_url=endpoint)
        self.iam = session.client("iam", endpoint_url=endpoint)
        self.account = session.client("sts", endpoint_url=endpoint).get_caller_identity()["Account"]
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        # moto's awsvpc tasks need DNS hostnames for their network interface.
        self.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        self.network = {
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": [],  # moto's RunTask fails without the key
                "assignPublicIp": "ENABLED",
            }
        }
        self.cluster = self.ecs.create_cluster(clusterName="local")["cluster"]["clusterArn"]
        self.queue = self._events_queue()
        self.messages: list[dict[str, Any]] = []

    def _events_queue(self) -> str:
        """The observer's queue behind an EventBridge rule, as the platform stack builds it."""
        queue = self.sqs.create_queue(QueueName="prefect-ecs-tasks-events")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {"clusterArn": [self.cluster]},
        }
        rule_arn = self.events.put_rule(Name="ecs-task-events", EventPattern=json.dumps(pattern))[
            "RuleArn"
        ]
        # As the observer module's: EventBridge delivers only what the queue's policy allows.
        policy = observer_queue_policy(rule_arn, queue_arn)
        self.sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": policy})
        self.events.put_targets(Rule="ecs-task-events", Targets=[{"Id": "q", "Arn": queue_arn}])
        return str(queue)

    def role(self, name: str, trust: dict[str, Any], propagation: float | None = None) -> str:
        """A new role's ARN, once IAM has propagated it (the runtime refuses a younger one, as
        ECS does: bootstrap_local/ecs_runtime/roles.py); at once when `propagation` is 0."""
        role = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        self.propagated(name, propagation)
        return str(role["Role"]["Arn"])

    def propagated(self, name: str, propagation: float | None = None) -> None:
        """Wait until role `name` is older than `propagation` seconds (the local setting's)."""
        seconds = (
            load_local_settings().iam_propagation_seconds if propagation is None else propagation
        )
        created = self.iam.get_role(RoleName=name)["Role"]["CreateDate"]
        wait_for(lambda: roles.propagated(created, seconds), seconds + 30, f"{name} in IAM")

    def task_definition(
        self, family: str, image_ref: str, task_role_arn: str | None = None, **container: Any
    ) -> str:
        container.setdefault("command", SLEEP)
        definition = {"name": family, "image": image_ref, "memory": 512, **container}
        role = {"taskRoleArn": task_role_arn} if task_role_arn else {}
        return str(
            self.ecs.register_task_definition(
                family=family,
                requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc",
                cpu="256",
                memory="512",
                containerDefinitions=[definition],
                **role,
            )["taskDefinition"]["taskDefinitionArn"]
        )

    def run_task(self, task_definition: str, **kwargs: Any) -> str:
        tasks = self.ecs.run_task(
            cluster=self.cluster,
            taskDefinition=task_definition,
            launchType="FARGATE",
            networkConfiguration=self.network,
            **kwargs,
        )["tasks"]
        return str(tasks[0]["taskArn"])

    def task(self, arn: str) -> dict[str, Any]:
        return dict(self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0])

    def stopped(self, arn: str) -> dict[str, Any] | None:
        task = self.task(arn)
        return task if task["lastStatus"] == "STOPPED" else None

    def task_events(self, arn: str) -> list[dict[str, Any]]:
        """Every ECS Task State Change of `arn` that reached the queue so far, in order."""
        while True:
            received = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
            batch = received.get("Messages", [])
            if not batch:
                break
            for message in batch:
                self.messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return [m for m in self.messages if m["detail"]["taskArn"] == arn]

    def stopped_event(self, arn: str) -> dict[str, Any] | None:
        found = [m for m in self.task_events(arn) if m["detail"]["lastStatus"] == "STOPPED"]
        return found[-1] if found else None


class Runtime:
    """The runtime process (`python -m bootstrap_local.ecs_runtime`) on the test's moto."""

    def __init__(self, endpoint: str, state: Path, engine: docker.DockerClient, **env: str):
        self.engine = engine
        self.state = state
        self.log = state / "ecs-runtime.log"
        self.env = {
            **os.environ,
            "BOOTSTRAP_ENV_FILE": "/nonexistent",
            "BOOTSTRAP_ENVIRONMENT": "local",
            "BOOTSTRAP_AWS_ENDPOINT_URL": endpoint,
            "BOOTSTRAP_LOCAL_STATE_DIR": str(state),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **env,
        }
        self.settings: BootstrapSettings = load_settings(
            environment="local", aws_endpoint_url=endpoint
        )
        self.local = load_local_settings(state_dir=state)
        self.instance = str(state.resolve())
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bootstrap_local.ecs_runtime",
                    "--poll-interval",
                    "0.5",
                    "--shutdown-grace",
                    "5",
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            return healthy(self.local)

        wait_for(ready, 60, "the ECS runtime's first pass")

    def stop(self, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def containers(self, running_only: bool = True) -> list[Any]:
        # The runtime removes containers as this lists them: one gone before docker-py
        # inspects it is not a failure (it raised NotFound under load).
        found = self.engine.containers.list(
            all=not running_only,
            filters={"label": f"{RUNTIME_LABEL}={self.instance}"},
            ignore_removed=True,
        )
        return list(found)

    def container_of(self, task_arn: str) -> Any | None:
        found = [c for c in self.containers() if c.labels.get(TASK_LABEL) == task_arn]
        return found[0] if found else None
