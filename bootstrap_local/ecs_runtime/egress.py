"""A task's security groups decide whether it reaches its Prefect, as on Fargate.

On Fargate a connection that no egress rule of the task's security groups allows never leaves
the task: a worker whose group lacks its Prefect API's port (a self-hosted server on 4200) never
connects. The runtime runs containers on the host's network, where nothing filters, so that
worker would connect here and fail only on AWS.

Before a container starts, the egress rules of the groups AWS attached to the task's network
interface (its ENI attachment, as DescribeNetworkInterfaces reports them) are evaluated against
the PREFECT_API_URL in the container's environment: TCP (or all traffic), a port range holding
the URL's port, and an IPv4/IPv6 range holding the destination (a /0 range holds any). Rules
that name another security group or a prefix list hold no address the emulator could match.

Where they do not allow it, the container runs with no network at all (Docker's `none`, a
loopback interface only): it cannot reach its Prefect, as on Fargate (there the connection times
out; here it is refused at once). On the host's network one destination cannot be closed alone,
so such a task reaches nothing else either (AWS endpoints, which Fargate would let through on
443); the runtime logs a warning saying so. A task without an ENI or without PREFECT_API_URL
is left as it is.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from bootstrap_local.ecs_runtime.spec import ContainerSpec

logger = logging.getLogger("bootstrap_local.ecs_runtime")

API_URL_VARIABLE = "PREFECT_API_URL"
# Docker's network mode of a container with a loopback interface only.
NO_NETWORK = "none"
_DEFAULT_PORTS = {"https": 443, "http": 80}
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def destination(url: str) -> tuple[str, int] | None:
    """(host, TCP port) a connection to `url` goes to; None if it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    if default is None or not parts.hostname:
        return None
    return parts.hostname, default if port is None else port


def addresses(host: str, port: int) -> list[_Address]:
    """The addresses `host` stands for (itself if it is one); none if it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


def _holds_port(permission: dict[str, Any], port: int) -> bool:
    protocol = str(permission.get("IpProtocol", ""))
    if protocol == "-1":  # all traffic: no ports to check
        return True
    if protocol not in ("tcp", "6"):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None or (low == -1 and high == -1):
        return True
    return int(low) <= port <= int(high)


def _holds_address(permission: dict[str, Any], found: list[_Address]) -> bool:
    ranges = [r["CidrIp"] for r in permission.get("IpRanges") or []]
    ranges += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges") or []]
    for text in ranges:
        network = ipaddress.ip_network(text, strict=False)
        # A /0 holds any address, even one this machine cannot resolve.
        if network.prefixlen == 0 or any(
            a in network for a in found if a.version == network.version
        ):
            return True
    return False


def allows(groups: list[dict[str, Any]], host: str, port: int) -> bool:
    """Whether any egress rule of `groups` (DescribeSecurityGroups' entries) lets TCP to
    `host`:`port` out. Security groups only allow: one matching rule of any group is enough."""
    found = addresses(host, port)
    return any(
        _holds_port(permission, port) and _holds_address(permission, found)
        for group in groups
        for permission in group.get("IpPermissionsEgress") or []
    )


def network_interface_id(task: dict[str, Any]) -> str | None:
    """The ENI of an awsvpc task (DescribeTasks' `attachments`), None for other network modes."""
    for attachment in task.get("attachments") or []:
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        for detail in attachment.get("details") or []:
            if detail.get("name") == "networkInterfaceId":
                return str(detail["value"])
    return None


class EgressGate:
    """Runs a task's container cut off from the network when its groups keep it from its
    Prefect; see the module docstring. `ec2` is a client of the emulated AWS."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def groups(self, eni: str) -> list[dict[str, Any]]:
        interface = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])
        ids = [g["GroupId"] for i in interface["NetworkInterfaces"] for g in i.get("Groups") or []]
        if not ids:
            return []
        return list(self.ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"])

    def confine(self, task: dict[str, Any], spec: ContainerSpec) -> ContainerSpec:
        """`spec` as it is, or with no network when the task's groups do not allow its
        PREFECT_API_URL (raises what EC2 raises: the task then fails to start)."""
        url = spec.environment.get(API_URL_VARIABLE)
        eni = network_interface_id(task)
        target = destination(url) if url else None
        if eni is None or target is None:
            return spec
        groups = self.groups(eni)
        # An interface without a group is one AWS gives the VPC's default group, which moto
        # attaches itself; none at all can only be a gap of the emulator: leave the task be.
        if not groups or allows(groups, *target):
            return spec
        logger.warning(
            "task %s: no egress rule of its security groups %s allows TCP %s to %s (%s): it "
            "runs with no network, so it cannot reach its Prefect, as on Fargate (nor, unlike "
            "Fargate, anything else)",
            task.get("taskArn"),
            [g["GroupId"] for g in groups],
            target[1],
            target[0],
            API_URL_VARIABLE,
        )
        return dataclasses.replace(spec, network_mode=NO_NETWORK)
