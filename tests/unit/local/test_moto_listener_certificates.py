"""A listener takes only an ISSUED ACM certificate, as on AWS (bootstrap_local/aws_like/elbv2.py).

Each `test_stock_moto_*` shows why the patch exists: if one fails, moto does what AWS does
there; drop that part of the patch and its test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import moto.settings
import pytest
from moto import mock_aws
from moto.elbv2.responses import ELBV2Response

from bootstrap_local import aws_like
from bootstrap_local.aws_like.elbv2 import TAKING_CERTIFICATES
from bootstrap_local.aws_like.limits import stock
from bootstrap_local.certificate import self_signed

REGION = "us-east-1"
MISSING = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Balancer:
    elbv2: Any
    acm: Any
    arn: str
    target_group: str

    def listener(self, certificate: str, port: int = 443) -> str:
        created = self.elbv2.create_listener(
            LoadBalancerArn=self.arn,
            Protocol="HTTPS",
            Port=port,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": self.target_group}],
        )
        return str(created["Listeners"][0]["ListenerArn"])

    def issued(self, host: str = "prefect.example.com") -> str:
        """A certificate of the user's own, imported: ISSUED from the start."""
        certificate, key = self_signed(host)
        imported = self.acm.import_certificate(Certificate=certificate, PrivateKey=key)
        return str(imported["CertificateArn"])

    def pending(self, host: str = "prefect.example.com") -> str:
        """A certificate ACM issues once its DNS validation passes (not yet, here)."""
        requested = self.acm.request_certificate(DomainName=host, ValidationMethod="DNS")
        return str(requested["CertificateArn"])


@pytest.fixture
def balancer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Balancer]:
    """An application load balancer in moto in this process, unpatched (the originals come
    back afterwards); certificates requested stay PENDING_VALIDATION for the test's length."""
    for name in TAKING_CERTIFICATES:
        monkeypatch.setattr(ELBV2Response, name, stock(ELBV2Response, name))
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 3600)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        elbv2 = boto3.client("elbv2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=zone)[
                "Subnet"
            ]["SubnetId"]
            for n, zone in enumerate((f"{REGION}a", f"{REGION}b"))
        ]
        arn = elbv2.create_load_balancer(Name="lb", Subnets=subnets)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        group = elbv2.create_target_group(
            Name="tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        yield Balancer(elbv2, boto3.client("acm", region_name=REGION), arn, group)


def test_stock_moto_takes_a_certificate_pending_validation(balancer: Balancer) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop the patch."""
    pending = balancer.pending()
    listener = balancer.listener(pending)
    balancer.elbv2.add_listener_certificates(
        ListenerArn=listener, Certificates=[{"CertificateArn": balancer.pending("b.example.com")}]
    )
    status = balancer.acm.describe_certificate(CertificateArn=pending)["Certificate"]["Status"]
    assert status == "PENDING_VALIDATION"


def test_stock_moto_adds_a_certificate_that_does_not_exist(balancer: Balancer) -> None:
    listener = balancer.listener(balancer.issued())
    balancer.elbv2.add_listener_certificates(
        ListenerArn=listener, Certificates=[{"CertificateArn": MISSING}]
    )
    taken = balancer.elbv2.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    assert MISSING in [one["CertificateArn"] for one in taken]


def test_a_listener_refuses_a_certificate_pending_validation_as_on_aws(
    balancer: Balancer,
) -> None:
    aws_like.listener_certificates_like_aws()
    aws_like.listener_certificates_like_aws()  # a second patch must not wrap the first
    pending = balancer.pending()
    not_found = balancer.elbv2.exceptions.CertificateNotFoundException
    with pytest.raises(not_found, match=f"Certificate '{pending}' not found"):
        balancer.listener(pending)
    with pytest.raises(not_found, match=f"Certificate '{MISSING}' not found"):
        balancer.listener(MISSING)
    assert balancer.elbv2.describe_listeners(LoadBalancerArn=balancer.arn)["Listeners"] == []

    listener = balancer.listener(balancer.issued())
    with pytest.raises(not_found, match=f"Certificate '{pending}' not found"):
        balancer.elbv2.modify_listener(
            ListenerArn=listener, Certificates=[{"CertificateArn": pending}]
        )
    for refused in (pending, MISSING):
        with pytest.raises(not_found, match=f"Certificate '{refused}' not found"):
            balancer.elbv2.add_listener_certificates(
                ListenerArn=listener, Certificates=[{"CertificateArn": refused}]
            )
    taken = balancer.elbv2.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    assert {one["CertificateArn"] for one in taken} & {pending, MISSING} == set()


def test_a_certificate_is_taken_once_acm_issued_it(
    balancer: Balancer, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_like.listener_certificates_like_aws()
    pending = balancer.pending()
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0)  # DNS validation has passed
    listener = balancer.listener(pending)
    balancer.elbv2.modify_listener(ListenerArn=listener, Certificates=[{"CertificateArn": pending}])
    assert balancer.listener(balancer.issued(), port=8443)
