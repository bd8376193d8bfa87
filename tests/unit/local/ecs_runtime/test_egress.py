"""A task's security groups against its PREFECT_API_URL, as Fargate would filter it (egress.py).

The rule evaluation on its own, then the gate on moto (in-process): a task RunTask placed in a
group, its ENI's groups read back, its container spec confined or left as it is. That a
confined container cannot reach its Prefect, with Docker: tests/integration/local/
test_ecs_runtime_egress.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bootstrap_local.ecs_runtime.egress import (
    NO_NETWORK,
    EgressGate,
    allows,
    destination,
    network_interface_id,
)
from bootstrap_local.ecs_runtime.spec import NETWORK_MODE, RuntimeFacts, container_spec

PREFECT = "http://127.0.0.1:4200/api"


def rule(protocol: str = "tcp", low: int | None = 443, high: int | None = 443, **ranges: Any):
    permission: dict[str, Any] = {"IpProtocol": protocol, **ranges}
    if low is not None:
        permission |= {"FromPort": low, "ToPort": high}
    permission.setdefault("IpRanges", [{"CidrIp": "0.0.0.0/0"}])
    return {"GroupId": "sg-1", "IpPermissionsEgress": [permission]}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.prefect.cloud/api", ("api.prefect.cloud", 443)),
        ("http://prefect.internal/api", ("prefect.internal", 80)),
        (PREFECT, ("127.0.0.1", 4200)),
        ("http://[::1]:4200/api", ("::1", 4200)),
        ("ftp://prefect.internal/api", None),
        ("http://prefect:99999/api", None),
        ("not a url", None),
    ],
)
def test_the_destination_is_the_urls_host_and_tcp_port(url: str, expected: Any) -> None:
    assert destination(url) == expected


@pytest.mark.parametrize(
    ("groups", "allowed"),
    [
        ([rule()], False),  # the network module's HTTPS rule alone
        ([rule(low=4200, high=4200)], True),
        ([rule(low=4000, high=4299)], True),
        ([rule(protocol="6", low=4200, high=4200)], True),  # the protocol by number
        ([rule(protocol="-1", low=None)], True),  # all traffic (the VPC's default group)
        ([rule(protocol="udp", low=4200, high=4200)], False),
        ([rule(low=4200, high=4200, IpRanges=[{"CidrIp": "127.0.0.0/8"}])], True),
        ([rule(low=4200, high=4200, IpRanges=[{"CidrIp": "10.0.0.0/16"}])], False),
        ([rule(low=4200, high=4200, IpRanges=[], Ipv6Ranges=[{"CidrIpv6": "::/0"}])], True),
        # A rule naming another group holds no address the emulator can match.
        ([rule(low=4200, high=4200, IpRanges=[], UserIdGroupPairs=[{"GroupId": "sg-2"}])], False),
        ([rule(), rule(low=4200, high=4200)], True),  # any group's rule is enough
        ([], False),
    ],
)
def test_an_egress_rule_must_hold_the_protocol_port_and_address(
    groups: list[dict[str, Any]], allowed: bool
) -> None:
    assert allows(groups, "127.0.0.1", 4200) is allowed


def test_an_unresolvable_host_is_held_by_a_zero_prefix_only() -> None:
    host = "prefect.invalid"  # RFC 2606: never resolves
    assert allows([rule(low=4200, high=4200)], host, 4200)
    assert not allows([rule(low=4200, high=4200, IpRanges=[{"CidrIp": "10.0.0.0/8"}])], host, 4200)


# --- the gate on moto ------------------------------------------------------------------------


class Vpc:
    def __init__(self) -> None:
        self.ec2 = boto3.client("ec2", region_name="us-east-1")
        self.ecs = boto3.client("ecs", region_name="us-east-1")
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.ec2.modify_vpc_attribute(VpcId=self.vpc, EnableDnsHostnames={"Value": True})
        self.subnet = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.0.1.0/24")["Subnet"][
            "SubnetId"
        ]
        self.ecs.create_cluster(clusterName="local")
        self.groups: list[str] = []
        self.ecs.register_task_definition(
            family="worker",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            containerDefinitions=[{"name": "worker", "image": "probe", "memory": 512}],
        )

    def group(self, *ports: int) -> str:
        """A worker-like group: HTTPS out, plus TCP `ports` out to anywhere."""
        group = self.ec2.create_security_group(
            GroupName=f"worker-{len(self.groups)}",
            Description="worker",
            VpcId=self.vpc,
        )["GroupId"]
        # A new group allows all egress; the network module's group does not.
        self.ec2.revoke_security_group_egress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        self.ec2.authorize_security_group_egress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": p,
                    "ToPort": p,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
                for p in (443, *ports)
            ],
        )
        self.groups.append(str(group))
        return str(group)

    def task(self, groups: list[str]) -> dict[str, Any]:
        network = {"subnets": [self.subnet], "securityGroups": groups}
        return dict(
            self.ecs.run_task(
                cluster="local",
                taskDefinition="worker",
                launchType="FARGATE",
                networkConfiguration={"awsvpcConfiguration": network},
            )["tasks"][0]
        )


@pytest.fixture
def vpc() -> Iterator[Vpc]:
    with mock_aws():
        yield Vpc()


def _network(vpc: Vpc, task: dict[str, Any], url: str | None = PREFECT) -> str:
    definition = vpc.ecs.describe_task_definition(taskDefinition="worker")["taskDefinition"]
    environment = {"PREFECT_API_URL": url} if url else {}
    facts = RuntimeFacts(
        instance="i", registry_host=None, region="us-east-1", environment=environment
    )
    spec = container_spec(task, definition, {}, facts)
    return EgressGate(vpc.ec2).confine(task, spec).network_mode


def test_a_task_whose_group_lacks_its_prefect_port_runs_without_network(vpc: Vpc) -> None:
    task = vpc.task([vpc.group()])
    assert network_interface_id(task)
    assert _network(vpc, task) == NO_NETWORK
    # Its Prefect on 443 is allowed; a task with no Prefect URL is none of the gate's business.
    assert _network(vpc, task, "https://api.prefect.cloud/api") == NETWORK_MODE
    assert _network(vpc, task, None) == NETWORK_MODE


def test_a_task_whose_group_allows_the_port_keeps_the_hosts_network(vpc: Vpc) -> None:
    assert _network(vpc, vpc.task([vpc.group(4200)])) == NETWORK_MODE
    # Another of its groups may be the one that allows it.
    assert _network(vpc, vpc.task([vpc.group(), vpc.group(4200)])) == NETWORK_MODE


def test_a_task_without_groups_gets_the_vpcs_default_group_which_allows_all(vpc: Vpc) -> None:
    assert _network(vpc, vpc.task([])) == NETWORK_MODE
