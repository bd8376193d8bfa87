"""The region's VPC and Elastic IP quotas are checked before anything is created, counting only
what a bootstrap still creates (bootstrap_flows/safety/quotas.py). Against moto in this
process: its Service Quotas answers the VPC quota and knows no ec2 quota (so the Elastic IP
quota is AWS's documented default), and its EC2 counts what the region holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.servicequotas import models as service_quotas

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.safety.quotas import (
    ELASTIC_IPS,
    PLATFORM_TAGS,
    VPCS,
    QuotaError,
    check_quotas,
    quota_value,
)

REGION = "us-east-1"


@pytest.fixture
def ec2(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def dev(**overrides: Any) -> BootstrapSettings:
    given = {"environment": "dev", **overrides}
    return load_settings(
        prefect_api_url="https://prefect.example.com/api",
        prefect_api_auth_string="worker:secret",
        **given,
    )


def owned(settings: BootstrapSettings, name: str) -> list[Any]:
    """The tags the platform stack puts on its network resources (providers.tf default_tags)."""
    tags = {**PLATFORM_TAGS, "Environment": settings.environment, "Name": name}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def allocate(ec2: Any, count: int, tags: list[Any] | None = None) -> None:
    spec = [{"ResourceType": "elastic-ip", "Tags": tags}] if tags else []
    for _ in range(count):
        ec2.allocate_address(Domain="vpc", TagSpecifications=spec)


def vpcs(ec2: Any, count: int, tags: list[Any] | None = None) -> None:
    spec = [{"ResourceType": "vpc", "Tags": tags}] if tags else []
    for number in range(count):
        ec2.create_vpc(CidrBlock=f"10.{number}.0.0/16", TagSpecifications=spec)


def test_room_for_one_nat_address_and_a_vpc_passes(ec2: Any) -> None:
    allocate(ec2, 4)
    vpcs(ec2, 3)  # and the default VPC: 4 of 5
    check_quotas(dev(nat_mode="single"))


def test_a_nat_per_zone_needs_an_address_per_zone(ec2: Any) -> None:
    allocate(ec2, 3)
    with pytest.raises(QuotaError, match=r"has 3 of 5 Elastic IPs .* needs 3 more .* release 1 "):
        check_quotas(dev(nat_mode="per_az", az_count=3))


def test_a_re_run_counts_only_what_it_still_creates(ec2: Any) -> None:
    """The environment's own VPC and NAT address exist: a full region does not refuse it."""
    settings = dev(nat_mode="single")
    allocate(ec2, 1, owned(settings, f"{settings.stack_name}-nat-us-east-1a"))
    allocate(ec2, 4)
    vpcs(ec2, 1, owned(settings, f"{settings.stack_name}-vpc"))
    vpcs(ec2, 3)
    check_quotas(settings)
    # Another environment's resources count as others'.
    with pytest.raises(QuotaError, match="needs 1 more"):
        check_quotas(dev(nat_mode="single", environment="staging"))
    with pytest.raises(QuotaError, match="has 5 of 5 Elastic IPs .* needs 1 more"):
        check_quotas(dev(nat_mode="per_az", az_count=2))  # one more NAT than it has


def test_the_quota_is_the_accounts_when_service_quotas_answers(
    ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account with a raised VPC quota (Service Quotas' applied value) is not refused."""
    raised = [dict(q) for q in service_quotas.VPC_DEFAULT_QUOTAS]
    for quota in raised:
        if quota["QuotaCode"] == VPCS.code:
            quota["Value"] = 10.0
    monkeypatch.setattr(service_quotas, "VPC_DEFAULT_QUOTAS", raised)
    vpcs(ec2, 6)
    assert quota_value(dev(), VPCS) == (10, "")
    check_quotas(dev())


def test_without_an_answer_the_quota_is_awss_default_and_says_so(ec2: Any) -> None:
    """moto's Service Quotas knows no ec2 quota; AWS answers NoSuchResourceException too in a
    region without the service, and AccessDenied without servicequotas:GetServiceQuota."""
    limit, source = quota_value(dev(), ELASTIC_IPS)
    assert limit == 5
    assert "AWS's default quota: Service Quotas answered NoSuchResourceException" in source


def test_a_region_past_its_vpc_quota_refuses_before_counting_addresses(ec2: Any) -> None:
    vpcs(ec2, 5)  # and the default VPC: 6 of 5 (a quota lowered, or raised and given back)
    with pytest.raises(QuotaError) as refused:
        check_quotas(dev())
    assert str(refused.value) == (
        "the region us-east-1 has 6 of 5 VPCs; this bootstrap needs 1 more (the environment's "
        "VPC): delete 2 you no longer use or ask for a quota increase (Service Quotas code "
        "L-F678F1CE)"
    )
