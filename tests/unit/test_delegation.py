"""The delegation check's parts (bootstrap_flows/safety/delegation.py): the comparison, and the
look-up with dnspython over UDP against a real responder on this machine (the embedded
default's, answering from a table here). Its refusals through preflight are rows of the README's
refused-inputs table (tests/unit/test_refused_inputs.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import pytest

from bootstrap_flows.config.validation import resolver_address
from bootstrap_flows.safety.delegation import (
    LOOKUP_SECONDS,
    SKIP,
    DelegationError,
    check_delegation,
    delegated,
    look_up,
)
from bootstrap_local.dns_responder import DnsResponder

ZONE = [
    "ns-1.awsdns-00.com",
    "ns-600.awsdns-18.net",
    "ns-1100.awsdns-34.org",
    "ns-1600.awsdns-50.co.uk",
]
OTHER = [
    "ns-2.awsdns-00.com",
    "ns-601.awsdns-18.net",
    "ns-1101.awsdns-34.org",
    "ns-1601.awsdns-50.co.uk",
]
# What the responder answers here: name -> NS names (None: NXDOMAIN).
PUBLIC = {"example.com": ZONE, "example.net": OTHER, "example.org": []}


@pytest.mark.parametrize(
    ("public", "held"),
    [
        (ZONE, True),
        ([f"{n.upper()}." for n in reversed(ZONE)], True),  # any case, order, trailing dot
        (OTHER, False),  # the registrar points at another zone's servers
        (ZONE[:2], False),  # half of them
        ([*ZONE, "ns-9.example.net"], False),  # one more that is not the zone's
        ([], False),  # NXDOMAIN or no NS records
    ],
)
def test_delegated_when_public_dns_answers_the_zones_four(public: list[str], held: bool) -> None:
    assert delegated(public, ZONE) is held


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("1.1.1.1", ("1.1.1.1", 53)),
        ("127.0.0.1:10053", ("127.0.0.1", 10053)),
        ("2606:4700:4700::1111", ("2606:4700:4700::1111", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_a_resolver_is_an_ip_address_with_an_optional_port(
    address: str, parsed: tuple[str, int]
) -> None:
    assert resolver_address(address) == parsed


@pytest.mark.parametrize("address", ["dns.google", "1.1.1.1:0", "1.1.1.1:dns", "[::1"])
def test_anything_else_is_not_a_resolver(address: str) -> None:
    with pytest.raises(ValueError, match="is not a DNS resolver's address"):
        resolver_address(address)


@pytest.fixture(scope="module")
def public_dns() -> Iterator[str]:
    with DnsResponder(lambda name: PUBLIC.get(name.rstrip(".").lower())) as running:
        yield running.address


def test_the_look_up_reads_ns_records_nxdomain_and_no_answer(public_dns: str) -> None:
    assert look_up("example.com", public_dns)[0] == sorted(ZONE)
    found, said = look_up("example.info", public_dns)
    assert (found, said) == ([], f"the resolver at {public_dns} answers NXDOMAIN (no such name)")
    assert look_up("example.org.", public_dns) == (
        [],
        f"the resolver at {public_dns} answers no NS records",
    )


def test_a_zone_public_dns_does_not_delegate_to_is_refused_with_both_lists(
    public_dns: str,
) -> None:
    check_delegation("Z1", "example.com.", ZONE, public_dns)  # delegated: passes
    with pytest.raises(DelegationError) as refused:
        check_delegation("Z2", "example.net.", ZONE, public_dns)
    message = str(refused.value)
    assert message.startswith(
        "server_route53_zone_id Z2 is not the zone public DNS delegates example.net to"
    )
    assert f"answers NS {', '.join(sorted(OTHER))};" in message
    assert f"the zone's name servers are {', '.join(sorted(ZONE))}," in message
    assert "at its registrar (or in its parent zone)" in message


def test_a_resolver_that_does_not_answer_refuses_in_seconds_and_says_how_to_skip() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never read: every query times out
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(DelegationError) as refused:
            check_delegation("Z1", "example.com", ZONE, address)
    assert time.monotonic() - started < LOOKUP_SECONDS + 2
    message = str(refused.value)
    looked = "cannot look up the public NS records of example.com with the resolver at"
    assert message.startswith(f"{looked} {address} (LifetimeTimeout:")
    assert message.endswith(f"or on a machine with no public DNS set {SKIP}")


def test_servfail_is_an_answer_refused_with_both_lists_and_the_skip() -> None:
    """What a resolver answers for a name delegated to servers that no longer serve it (a
    deleted zone's); a resolver with no public DNS may say the same, so the skip is named."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{server.getsockname()[1]}"

        def serve() -> None:
            data, client = server.recvfrom(512)
            response = dns.message.make_response(dns.message.from_wire(data))
            response.set_rcode(dns.rcode.SERVFAIL)
            server.sendto(response.to_wire(), client)

        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(DelegationError) as refused:
            check_delegation("Z1", "example.com", ZONE, address)
    message = str(refused.value)
    assert f"the resolver at {address} answers SERVFAIL (" in message
    assert f"the zone's name servers are {', '.join(sorted(ZONE))}," in message
    assert SKIP in message
