"""What the worker and bootstrap must reach, checked only for a run that applies
(bootstrap_flows/safety/server_reach.py): the refusals themselves are rows of the README's
refused-inputs table (tests/unit/test_refused_inputs.py); here, what passes. Route 53 is moto
in this process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.safety.server_reach import (
    ReachError,
    check_server_reach,
    check_zone,
    holds,
)


@pytest.fixture
def route53(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
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


def test_a_public_zone_that_holds_the_name_passes(route53: Any) -> None:
    made = route53.create_hosted_zone(Name="example.com", CallerReference="public")
    check_zone(server(server_route53_zone_id=made["HostedZone"]["Id"].rsplit("/", 1)[-1]))
    given = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c"
    check_zone(server(server_route53_zone_id=None, server_certificate_arn=given))  # no zone
