"""Each hosted zone gets name servers of its own, as on AWS
(bootstrap_local/aws_like/route53.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.route53.models import DelegationSet

from bootstrap_local import aws_like
from bootstrap_local.aws_like import route53 as route53_patch
from bootstrap_local.aws_like.limits import stock

AWS_NAME_SERVER = re.compile(r"^ns-([0-9]{1,4})\.awsdns-([0-9]{2})\.(com|net|org|co\.uk)$")


@pytest.fixture
def route53(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the original comes back afterwards)."""
    monkeypatch.setattr(DelegationSet, "__init__", stock(DelegationSet, "__init__"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("route53", region_name="us-east-1")


def servers_of_two_zones(route53: Any, name: str) -> tuple[list[str], list[str]]:
    """The DelegationSet name servers GetHostedZone gives for two zones of `name`."""
    found = []
    for reference in ("first", "again"):
        made = route53.create_hosted_zone(Name=name, CallerReference=reference)
        zone = route53.get_hosted_zone(Id=made["HostedZone"]["Id"])
        found.append(zone["DelegationSet"]["NameServers"])
    return found[0], found[1]


def test_stock_moto_gives_every_zone_the_same_name_servers(route53: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop the patch."""
    first, again = servers_of_two_zones(route53, "example.com")
    assert first == again


def test_each_zone_has_four_name_servers_of_its_own_as_on_aws(route53: Any) -> None:
    aws_like.delegation_sets_like_aws()
    aws_like.delegation_sets_like_aws()  # a second patch must not wrap the first
    assert not hasattr(DelegationSet.__init__.__wrapped__, "__wrapped__")
    first, again = servers_of_two_zones(route53, "example.com")
    assert set(first).isdisjoint(again)
    for servers in (first, again):
        matched = [AWS_NAME_SERVER.match(server) for server in servers]
        assert all(matched), servers
        # One under each of AWS's four domains, numbered in that domain's block.
        assert [m.group(3) for m in matched if m] == ["com", "net", "org", "co.uk"]
        for block, found in enumerate(m for m in matched if m):
            number = int(found.group(1))
            assert block * 512 <= number < (block + 1) * 512
            assert int(found.group(2)) == number // 32
    # The zone's own apex NS records are its delegation set's, as Route 53 makes them.
    zone = route53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"][-1]
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    [ns] = [record for record in records if record["Type"] == "NS"]
    assert {value["Value"] for value in ns["ResourceRecords"]} in ({*first}, {*again})


def test_no_two_delegation_sets_share_a_name_server() -> None:
    """Drawn independently, two sets share a server about 4 times in 512 (0.8 %): the
    delegation check would then see a zone made again as still delegated."""
    drawn = [server for _ in range(256) for server in route53_patch.name_servers()]
    assert len(set(drawn)) == len(drawn) == 1024
