"""Preflight of what the worker and bootstrap must reach, for a bootstrap (not a teardown):

- nat_mode "none": the worker and its flow runs sit in private subnets and need ECR (image
  pulls), S3, CloudWatch Logs, Secrets Manager, SQS and the Prefect API (Prefect Cloud is on
  the internet). Without NAT gateways only VPC endpoints could reach the AWS ones, and bootstrap
  makes none yet, so it is refused with that reason.
- an internal load balancer for the server stack: bootstrap waits for the server and registers
  the pool on it from the machine it runs on, which must reach the VPC. That cannot be told
  from outside, so the user states it (server_reachable_from_orchestrator). A target that says
  where the server answers (an emulator's) needs no statement.
- the Route 53 zone (server_route53_zone_id): ACM's DNS validation and the worker resolve the
  server's name through public DNS. A private zone, one that does not hold the name, or one
  public DNS does not delegate the zone's name to (its NS records, looked up and compared with
  the zone's DelegationSet: safety/delegation.py) would leave ACM waiting 75 minutes and
  failing. The look-up asks this machine's resolver (or the target's, or
  server_dns_resolver's); server_skip_delegation_check skips it where there is no public DNS.

Read-only: route53:GetHostedZone, and one DNS query.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.safety.delegation import ACM_WAIT, check_delegation
from bootstrap_flows.safety.refusal import PreflightError


class ReachError(PreflightError):
    """The worker or bootstrap could not reach what it must; nothing has been changed."""


def check_nat_egress(settings: BootstrapSettings) -> None:
    if settings.nat_mode == "none":
        raise ReachError(
            "nat_mode none: the worker and its flow runs, in private subnets, need egress to "
            "ECR, S3, CloudWatch Logs, Secrets Manager, SQS and the Prefect API (Prefect Cloud "
            "is on the internet), and bootstrap makes no VPC endpoints for them; set "
            "BOOTSTRAP_NAT_MODE=single (or per_az)"
        )


def check_server_reach(settings: BootstrapSettings) -> None:
    """An internal load balancer only when the user states this machine reaches the VPC."""
    if settings.prefect_server != "aws" or not settings.server_internal:
        return
    if settings.server_reachable_from_orchestrator or resolve(settings).server_api_url:
        return
    raise ReachError(
        "server_internal: the server stack's load balancer is internal (reachable from its "
        "VPC and what is connected to it), and bootstrap waits for the server and registers "
        "the pool on it from this machine; if this machine reaches the VPC (VPN, peering, or "
        "it runs there) set BOOTSTRAP_SERVER_REACHABLE_FROM_ORCHESTRATOR=true, or set "
        "BOOTSTRAP_SERVER_INTERNAL=false with BOOTSTRAP_SERVER_ALLOWED_CIDRS"
    )


def hosted_zone(settings: BootstrapSettings, zone: str) -> dict[str, Any]:
    """Route 53's record of hosted zone `zone`; a missing one or a refused look-up is refused."""
    try:
        answer: dict[str, Any] = aws.client(settings, "route53").get_hosted_zone(Id=zone)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "NoSuchHostedZone":
            raise ReachError(
                f"server_route53_zone_id {zone}: Route 53 has no such hosted zone; copy the "
                "ID of the public hosted zone that holds server_domain_name from the Route 53 "
                "console into BOOTSTRAP_SERVER_ROUTE53_ZONE_ID"
            ) from exc
        raise ReachError(
            f"server_route53_zone_id {zone}: cannot read it from Route 53 ({error.get('Code')}: "
            f"{error.get('Message')}); the identity needs route53:GetHostedZone on it (see the "
            "operator policy)"
        ) from exc
    except BotoCoreError as exc:
        raise ReachError(f"server_route53_zone_id {zone}: cannot ask Route 53 ({exc})") from exc
    return answer


def holds(zone_name: str, domain: str) -> bool:
    return domain == zone_name or domain.endswith(f".{zone_name}")


def check_zone(settings: BootstrapSettings) -> None:
    """Refuse a zone ACM's DNS validation and the worker's name look-up cannot use."""
    zone, domain = settings.server_route53_zone_id, settings.server_domain_name
    if settings.prefect_server != "aws" or zone is None:
        return
    answer = hosted_zone(settings, zone)
    found = answer["HostedZone"]
    bare = str(found["Name"]).rstrip(".").lower()  # Route 53 names end in a dot
    if found.get("Config", {}).get("PrivateZone"):
        raise ReachError(
            f"server_route53_zone_id {zone} is a private hosted zone ({bare}): ACM and the "
            f"worker look the server's name up in public DNS, so {ACM_WAIT}; give the public "
            "hosted zone that holds server_domain_name"
        )
    if domain is not None and not holds(bare, domain):
        raise ReachError(
            f"server_route53_zone_id {zone} is the zone of {bare}, which does not hold "
            f"server_domain_name {domain}: Route 53 takes no record for it there; give the "
            f"zone of {domain} (or of a parent domain)"
        )
    if not settings.server_skip_delegation_check:
        servers = answer.get("DelegationSet", {}).get("NameServers", [])
        check_delegation(zone, bare, servers, resolve(settings).dns_resolver)
