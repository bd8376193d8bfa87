"""The local ECS runtime honours the task's security-group egress towards its Prefect.

On Fargate a worker whose group lacks its Prefect API's port never connects; the runtime used to
run every container on the host's network, where it did. Here a TCP listener stands in for
Prefect and a task tries to connect to its PREFECT_API_URL: placed in a group that allows HTTPS
only it cannot, in a group that also allows the port it can. With moto and Docker, as
test_ecs_runtime.py (fixtures: conftest.py beside this file); the rule evaluation: tests/unit/local/
ecs_runtime/test_egress.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.ecs_runtime import Emulated, Runtime, wait_for

pytestmark = pytest.mark.slow

# Exit 0 once connected to the PREFECT_API_URL's host and port, 3 if that fails.
CONNECT = """
import os, socket, sys, urllib.parse
url = urllib.parse.urlsplit(os.environ["PREFECT_API_URL"])
try:
    socket.create_connection((url.hostname, url.port), timeout=5).close()
except OSError as exc:
    print(f"cannot reach Prefect: {exc}", flush=True)
    sys.exit(3)
print("reached Prefect", flush=True)
"""


class Listener:
    """A TCP port on this machine standing in for Prefect: counts the connections it gets."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            connection.close()


@pytest.fixture
def prefect() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.socket.close()


def _group(aws: Emulated, name: str, *ports: int) -> str:
    """A group like the network module's worker group: HTTPS out, plus TCP `ports`."""
    vpc = aws.ec2.describe_subnets(SubnetIds=aws.network["awsvpcConfiguration"]["subnets"])[
        "Subnets"
    ][0]["VpcId"]
    group = str(
        aws.ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    )
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    aws.ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[everything])
    allowed = [
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        for p in (443, *ports)
    ]
    aws.ec2.authorize_security_group_egress(GroupId=group, IpPermissions=allowed)
    return group


def _run(aws: Emulated, definition: str, group: str) -> str:
    network: dict[str, Any] = dict(aws.network["awsvpcConfiguration"], securityGroups=[group])
    tasks = aws.ecs.run_task(
        cluster=aws.cluster,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": network},
    )["tasks"]
    return str(tasks[0]["taskArn"])


def test_a_task_reaches_its_prefect_only_when_its_group_allows_the_port(
    aws: Emulated, runtime: Runtime, probe_image: str, prefect: Listener
) -> None:
    url = f"http://127.0.0.1:{prefect.port}/api"
    definition = aws.task_definition(
        "worker",
        probe_image,
        command=["python3", "-c", CONNECT],
        environment=[{"name": "PREFECT_API_URL", "value": url}],
    )
    runtime.start()

    blocked = _run(aws, definition, _group(aws, "https-only"))
    stopped = wait_for(lambda: aws.stopped(blocked), 60, "the blocked task STOPPED")
    assert stopped["stoppedReason"] == "Essential container in task exited (exit code 3)"
    assert prefect.accepted == 0
    assert "runs with no network" in runtime.log.read_text()

    allowed = _run(aws, definition, _group(aws, "with-prefect", prefect.port))
    stopped = wait_for(lambda: aws.stopped(allowed), 60, "the allowed task STOPPED")
    assert stopped["stoppedReason"] == "Essential container in task exited (exit code 0)"
    assert prefect.accepted == 1
