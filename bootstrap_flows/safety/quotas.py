"""Preflight of the region's quotas for what a bootstrap creates: one VPC, and one Elastic IP per
NAT gateway (the network module makes none for nat_mode "none", one for "single", one per
availability zone for "per_az").

Past a quota AWS refuses the create (VpcLimitExceeded, AddressLimitExceeded) in the middle of an
apply, after the state bucket and whatever Terraform made first. Here, before anything: what
the region holds (DescribeVpcs, DescribeAddresses: every VPC and address of the account in the
region counts, the default VPC too) plus what this bootstrap still creates, against the quota.
On a re-run the environment's own VPC and NAT addresses exist already: they are found by the
tags the platform stack puts on them (its default tags and their Name) and not counted again.

The quota: the one the target states (an emulator enforces none), else Service Quotas' applied
value (servicequotas:GetServiceQuota), else AWS's documented default, when that call is denied
or not answered (moto's Service Quotas knows no ec2 quotas), and the message says so.

Read-only: DescribeVpcs, DescribeAddresses, GetServiceQuota.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.names import stack_prefix
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.safety.refusal import PreflightError


@dataclass(frozen=True)
class Quota:
    service: str  # Service Quotas' service code
    code: str  # Service Quotas' quota code
    what: str  # what it counts, plural
    default: int  # AWS's documented default per region
    free: str  # how to make room, given how many


ELASTIC_IPS = Quota("ec2", "L-0263D0A3", "Elastic IPs", 5, "release {n} you no longer use")
VPCS = Quota("vpc", "L-F678F1CE", "VPCs", 5, "delete {n} you no longer use")
# The tags every resource of the platform stack carries (stacks/platform/providers.tf).
PLATFORM_TAGS = {"Project": "bootstrap-flows", "Stack": "platform"}


class QuotaError(PreflightError):
    """The region has no room for what bootstrap creates; nothing has been changed."""


def nat_gateways(settings: BootstrapSettings) -> int:
    """How many NAT gateways (each with its Elastic IP) the network module makes."""
    return {"none": 0, "single": 1}.get(settings.nat_mode, settings.az_count)


def quota_value(settings: BootstrapSettings, quota: Quota) -> tuple[int, str]:
    """The quota in the region, and "" or why it is AWS's default rather than the account's."""
    stated = resolve(settings).quotas.get(quota.code)
    if stated is not None:
        return stated, ""
    try:
        answer = aws.client(settings, "service-quotas").get_service_quota(
            ServiceCode=quota.service, QuotaCode=quota.code
        )
        return int(answer["Quota"]["Value"]), ""
    except ClientError as exc:
        reason = exc.response.get("Error", {}).get("Code", "an error")
    except BotoCoreError as exc:
        reason = type(exc).__name__
    return quota.default, f" (AWS's default quota: Service Quotas answered {reason})"


def _owner_filters(settings: BootstrapSettings) -> list[Any]:
    tags = {**PLATFORM_TAGS, "Environment": settings.environment}
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]


def _name(resource: dict[str, Any]) -> str:
    return next((t["Value"] for t in resource.get("Tags") or [] if t["Key"] == "Name"), "")


def vpc_needs(settings: BootstrapSettings) -> tuple[int, int]:
    """(VPCs in the region, VPCs this bootstrap still creates)."""
    ec2 = aws.client(settings, "ec2")
    vpcs = [vpc for page in ec2.get_paginator("describe_vpcs").paginate() for vpc in page["Vpcs"]]
    ours = ec2.describe_vpcs(Filters=_owner_filters(settings))["Vpcs"]
    # modules/network's Name tag.
    name = f"{stack_prefix(settings.name_prefix, settings.environment)}vpc"
    exists = any(_name(dict(vpc)) == name for vpc in ours)
    return len(vpcs), 0 if exists else 1


def address_needs(settings: BootstrapSettings) -> tuple[int, int]:
    """(Elastic IPs in the region, Elastic IPs this bootstrap still allocates for its NATs)."""
    ec2 = aws.client(settings, "ec2")
    addresses = ec2.describe_addresses()["Addresses"]
    ours = ec2.describe_addresses(Filters=_owner_filters(settings))["Addresses"]
    prefix = f"{stack_prefix(settings.name_prefix, settings.environment)}nat-"  # one per zone
    kept = sum(1 for address in ours if _name(dict(address)).startswith(prefix))
    return len(addresses), max(0, nat_gateways(settings) - kept)


def refuse_past(
    settings: BootstrapSettings, quota: Quota, used: int, needed: int, why: str
) -> None:
    """Refuse when `needed` more would take the region past `quota`."""
    if needed == 0:
        return
    limit, source = quota_value(settings, quota)
    if used + needed <= limit:
        return
    free = quota.free.format(n=used + needed - limit)
    raise QuotaError(
        f"the region {settings.aws_region} has {used} of {limit} {quota.what}{source}; this "
        f"bootstrap needs {needed} more ({why}): {free} or ask for a quota increase "
        f"(Service Quotas code {quota.code})"
    )


def check_quotas(settings: BootstrapSettings) -> None:
    """Refuse a bootstrap the region's VPC or Elastic IP quota has no room for."""
    where = f"the {settings.aws_region} VPCs and Elastic IPs"
    try:
        vpcs, new_vpcs = vpc_needs(settings)
        addresses, new_addresses = address_needs(settings)
    except (ClientError, BotoCoreError) as exc:
        raise QuotaError(
            f"cannot count {where} ({exc}); the identity needs ec2:DescribeVpcs and "
            "ec2:DescribeAddresses, which Terraform calls too"
        ) from exc
    refuse_past(settings, VPCS, vpcs, new_vpcs, "the environment's VPC")
    nats = f"one per NAT gateway, nat_mode {settings.nat_mode}"
    refuse_past(settings, ELASTIC_IPS, addresses, new_addresses, nats)
