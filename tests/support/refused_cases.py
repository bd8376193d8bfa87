"""What a case of the README's refused-inputs table is (tests/unit/test_refused_inputs.py runs
them), and the cases of the checks only a bootstrap makes (egress, the server stack's reach and
Route 53 zone, the region's quotas), kept here so that test module stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.ports import free_port
from tests.support.refusals import Key

# Every secret a case sets holds this, so one check proves no message echoes a secret.
SECRET = "s3cr3t"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c"
# What a case's own AWS resources carry: the refused run must create nothing besides them.
PREPARED = {"Key": "Owner", "Value": "another-team"}

Env = Mapping[str, str | None]  # None: the variable is removed
Prepare = Callable[[Path, pytest.MonkeyPatch], Env]


def settings(**values: str | None) -> dict[str, str | None]:
    """BOOTSTRAP_* variables, as a person sets them in the environment or .env."""
    return {f"BOOTSTRAP_{name.upper()}": value for name, value in values.items()}


# A remote environment with a self-hosted Prefect: every check passes until the case's own.
REMOTE = settings(
    prefect_api_url="https://prefect.example.invalid/api",
    prefect_api_auth_string=f"worker:{SECRET}-baseline",
)
# The server stack instead of an external Prefect, its internal load balancer stated reachable.
SERVER = settings(
    prefect_server="aws",
    server_certificate_arn=CERTIFICATE_ARN,
    server_reachable_from_orchestrator="true",
    prefect_api_url=None,
    prefect_api_auth_string=None,
)
# The server stack with a certificate ACM issues for its name, validated in a Route 53 zone.
ZONED = {
    **SERVER,
    **settings(server_certificate_arn=None, server_domain_name="prefect.example.com"),
}


@dataclass(frozen=True)
class Case:
    env: Env = field(default_factory=dict)
    environment: str = "dev"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    prepare: Prepare | None = None  # makes files or patches; returns more variables


def _zone(name: str, private: bool = False) -> Prepare:
    """A Route 53 hosted zone for `name` (private: of the region's default VPC), given as
    server_route53_zone_id."""

    def prepare(tmp: Path, _: pytest.MonkeyPatch) -> Env:
        route53 = boto3.client("route53", region_name="us-east-1")
        extra: dict[str, Any] = {}
        if private:
            vpc = boto3.client("ec2", region_name="us-east-1").describe_vpcs()["Vpcs"][0]
            extra = {
                "VPC": {"VPCRegion": "us-east-1", "VPCId": vpc["VpcId"]},
                "HostedZoneConfig": {"PrivateZone": True},
            }
        made = route53.create_hosted_zone(Name=name, CallerReference=str(tmp), **extra)
        return settings(server_route53_zone_id=made["HostedZone"]["Id"].rsplit("/", 1)[-1])

    return prepare


def _zones(*names: str, domain: str) -> Prepare:
    """Public hosted zones of `names`, made in that order, the last given as
    server_route53_zone_id, for server_domain_name `domain` (public DNS: the responder the
    test module names, answering from moto as the internet would)."""

    def prepare(tmp: Path, _: pytest.MonkeyPatch) -> Env:
        route53 = boto3.client("route53", region_name="us-east-1")
        for number, name in enumerate(names):
            made = route53.create_hosted_zone(Name=name, CallerReference=f"{tmp}-{number}")
        zone = made["HostedZone"]["Id"].rsplit("/", 1)[-1]
        return settings(server_route53_zone_id=zone, server_domain_name=domain)

    return prepare


def _no_resolver(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A delegated zone, and a resolver address where nothing listens."""
    env = _zones("example.info", domain="prefect.example.info")(tmp, monkeypatch)
    return {**env, **settings(server_dns_resolver=f"127.0.0.1:{free_port()}")}


def _full(region: str, addresses: int = 0, vpcs: int = 0) -> Prepare:
    """`region` holding `addresses` Elastic IPs and `vpcs` VPCs more (another team's)."""

    def prepare(tmp: Path, _: pytest.MonkeyPatch) -> Env:
        ec2 = boto3.client("ec2", region_name=region)
        for _address in range(addresses):
            ec2.allocate_address(
                Domain="vpc",
                TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [PREPARED]}],
            )
        for number in range(vpcs):
            ec2.create_vpc(
                CidrBlock=f"10.{number}.0.0/16",
                TagSpecifications=[{"ResourceType": "vpc", "Tags": [PREPARED]}],
            )
        return settings(aws_region=region)

    return prepare


# Each quota case in a region of its own: moto's state lasts the test module.
APPLY_CASES: dict[Key, Case] = {
    ("nat_mode", "none"): Case(settings(nat_mode="none")),
    (
        "server_internal",
        "true (the default), with prefect_server=aws, without server_reachable_from_orchestrator",
    ): Case({**SERVER, **settings(server_reachable_from_orchestrator=None)}),
    ("server_route53_zone_id", "one Route 53 does not hold"): Case(
        {**ZONED, **settings(server_route53_zone_id="Z0123456789ABC")}
    ),
    ("server_route53_zone_id", "a private zone"): Case(
        ZONED, prepare=_zone("example.com", private=True)
    ),
    ("server_route53_zone_id", "the zone of example.org, server_domain_name prefect.example.com"): (
        Case(ZONED, prepare=_zone("example.org"))
    ),
    ("server_route53_zone_id", "a second public zone of example.net, the first one delegated"): (
        Case(ZONED, prepare=_zones("example.net", "example.net", domain="prefect.example.net"))
    ),
    (
        "server_route53_zone_id",
        "the zone of prefect.example.io, its parent zone example.io delegating nothing to it",
    ): Case(ZONED, prepare=_zones("example.io", "prefect.example.io", domain="prefect.example.io")),
    ("server_dns_resolver", "one where nothing listens"): Case(ZONED, prepare=_no_resolver),
    ("Elastic IPs", "5 of 5 in the region, nat_mode single"): Case(
        prepare=_full("us-west-2", addresses=5)
    ),
    ("VPCs", "5 of 5 in the region (the default VPC and 4 more)"): Case(
        prepare=_full("eu-west-1", vpcs=4)
    ),
}
