"""What the worker and bootstrap must reach, checked only for a run that applies
(bootstrap_flows/safety/server_reach.py): the refusals themselves are rows of the README's
refused-inputs table (tests/unit/test_refused_inputs.py); here, what passes. Route 53 is moto
in this process, public DNS the embedded default's responder answering from it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.route53.models import DelegationSet

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.safety.delegation import DelegationError
from bootstrap_flows.safety.server_reach import (
    ReachError,
    check_server_reach,
    check_zone,
    holds,
)
from bootstrap_local import aws_like
from bootstrap_local.dns_responder import DnsResponder


@pytest.fixture
def route53(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Each zone its own name servers, as on AWS (restored afterwards).
    monkeypatch.setattr(DelegationSet, "__init__", DelegationSet.__init__)
    aws_like.delegation_sets_like_aws()
    with mock_aws(), DnsResponder() as public_dns:
        monkeypatch.setenv("BOOTSTRAP_SERVER_DNS_RESOLVER", public_dns.address)
        yield boto3.client("route53", region_name="us-east-1")


def server(environment: str = "dev", **overrides: Any) -> BootstrapSettings:
    given: dict[str, Any] = {
        "prefect_server": "aws",
        "server_domain_name": "prefect.example.com",
        "server_route53_zone_id": "Z0123456789ABC",
        **overrides,
    }
    return load_settings(environment=environment, **given)


@pytest.mark.parametrize(
    ("zone", "domain", "held"),
    [
        ("example.com", "prefect.example.com", True),
        ("example.com", "example.com", True),  # the apex
        ("prefect.example.com", "prefect.example.com", True),
        ("example.com", "prefect.example.org", False),
        ("ample.com", "prefect.example.com", False),  # a suffix is not a parent domain
        ("a.example.com", "prefect.example.com", False),
    ],
)
def test_a_zone_holds_its_name_and_the_names_below_it(zone: str, domain: str, held: bool) -> None:
    assert holds(zone, domain) is held


def test_an_internal_load_balancer_passes_when_stated_or_public(clean_env: None) -> None:
    with pytest.raises(ReachError, match="BOOTSTRAP_SERVER_REACHABLE_FROM_ORCHESTRATOR=true"):
        check_server_reach(server())
    check_server_reach(server(server_reachable_from_orchestrator=True))
    check_server_reach(server(server_internal=False))


def test_a_target_that_says_where_the_server_answers_needs_no_statement(
    clean_env: None,
) -> None:
    """The embedded default's target names the address the server task answers on."""
    check_server_reach(server("local"))


def zone_id(made: dict[str, Any]) -> str:
    return str(made["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def test_a_public_zone_that_holds_the_name_and_is_delegated_passes(route53: Any) -> None:
    made = route53.create_hosted_zone(Name="example.com", CallerReference="public")
    check_zone(server(server_route53_zone_id=zone_id(made)))
    given = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c"
    check_zone(server(server_route53_zone_id=None, server_certificate_arn=given))  # no zone


def test_the_delegation_check_is_skipped_when_asked(
    route53: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine with no public DNS: the look-up is not made (here it would not be answered)."""
    route53.create_hosted_zone(Name="example.com", CallerReference="registered")
    again = route53.create_hosted_zone(Name="example.com", CallerReference="again")
    with pytest.raises(DelegationError, match="is not the zone public DNS delegates example.com"):
        check_zone(server(server_route53_zone_id=zone_id(again)))
    monkeypatch.setenv("BOOTSTRAP_SERVER_DNS_RESOLVER", "127.0.0.1:9")  # nothing answers
    check_zone(server(server_route53_zone_id=zone_id(again), server_skip_delegation_check=True))
