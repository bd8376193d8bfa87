"""The DNS responder beside emulated AWS (bootstrap_local/dns_responder.py): it answers the NS
records public DNS would give for moto's Route 53 zones, asked with dnspython over UDP as the
delegation check asks. moto is in this process, with the patch that gives each zone name servers
of its own (as AWS does)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from moto import mock_aws
from moto.route53.models import DelegationSet

from bootstrap_local import aws_like
from bootstrap_local.dns_responder import DnsResponder, moto_delegation


@pytest.fixture
def route53(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(DelegationSet, "__init__", DelegationSet.__init__)  # restored after
    aws_like.delegation_sets_like_aws()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("route53", region_name="us-east-1")


@pytest.fixture
def responder(route53: Any) -> Iterator[tuple[str, int]]:
    with DnsResponder() as running:
        host, port = running.address.rsplit(":", 1)
        yield host, int(port)


def ask(where: tuple[str, int], name: str) -> tuple[str, list[str]]:
    """(rcode, NS names) the responder answers for `name`."""
    response = dns.query.udp(dns.message.make_query(name, "NS"), where[0], 2, where[1])
    # Lowercase: name compression gives an answer's labels the question's case.
    names = [r.to_text().lower() for rrset in response.answer for r in rrset]
    return dns.rcode.to_text(response.rcode()), sorted(names)


def zone(route53: Any, name: str, reference: str, private: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if private:
        extra = {
            "VPC": {"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"},
            "HostedZoneConfig": {"PrivateZone": True},
        }
    made = route53.create_hosted_zone(Name=name, CallerReference=reference, **extra)
    return dict(made)


def servers(made: dict[str, Any]) -> list[str]:
    return sorted(f"{server}." for server in made["DelegationSet"]["NameServers"])


def test_the_first_zone_of_a_name_is_the_delegated_one(
    route53: Any, responder: tuple[str, int]
) -> None:
    first = zone(route53, "example.com", "first")
    assert ask(responder, "example.com.") == ("NOERROR", servers(first))
    again = zone(route53, "example.com", "again")  # the registrar still points at the first
    assert servers(again) != servers(first)
    assert ask(responder, "Example.COM") == ("NOERROR", servers(first))


def test_a_name_without_a_public_zone_does_not_exist(
    route53: Any, responder: tuple[str, int]
) -> None:
    assert ask(responder, "example.org.") == ("NXDOMAIN", [])
    zone(route53, "example.org", "private", private=True)  # not on the internet
    assert ask(responder, "example.org.") == ("NXDOMAIN", [])


def test_a_sub_zone_is_delegated_only_by_its_parent_zone(
    route53: Any, responder: tuple[str, int]
) -> None:
    parent = zone(route53, "example.io", "parent")
    sub = zone(route53, "prefect.example.io", "sub")
    assert ask(responder, "prefect.example.io.") == ("NXDOMAIN", [])
    records = [{"Value": server} for server in sub["DelegationSet"]["NameServers"]]
    change = {"Name": "prefect.example.io.", "Type": "NS", "TTL": 300, "ResourceRecords": records}
    route53.change_resource_record_sets(
        HostedZoneId=parent["HostedZone"]["Id"],
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": change}]},
    )
    assert ask(responder, "prefect.example.io.") == ("NOERROR", servers(sub))
    assert moto_delegation("example.io") == parent["DelegationSet"]["NameServers"]


def test_other_types_and_garbage_get_no_records(route53: Any, responder: tuple[str, int]) -> None:
    zone(route53, "example.com", "first")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.sendto(b"not a dns query", responder)
        with pytest.raises(TimeoutError):
            sock.recv(512)
    query = dns.message.make_query("example.com.", dns.rdatatype.A)
    response = dns.query.udp(query, responder[0], 2, responder[1])
    assert (response.rcode(), response.answer) == (dns.rcode.NOERROR, [])
