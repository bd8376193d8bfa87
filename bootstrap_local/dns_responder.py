"""Public DNS as the delegation check asks it, on this machine: an authoritative responder for
the NS records of the names emulated Route 53 holds zones for.

The product's delegation check (bootstrap_flows/safety/delegation.py) asks public DNS for the NS
records of a zone's name and compares them with the zone's name servers. Without an answer of
its own the embedded default would need a real resolver (this machine may have none) or skip
the check, and the emulator would be kinder than AWS. So moto's server runs this responder
beside it (`--dns-port`, bootstrap_local/moto_server.py) and the emulator target names it.

What it answers, for a name N (as the internet would, with a registrar and parent zones):
- no public hosted zone named N: NXDOMAIN;
- a public zone of a parent domain of N (the closest one) holds the delegation: the NS records
  it has for N (NXDOMAIN if it has none: a sub-zone the parent never delegated);
- else the registrar delegates N to the **first** public zone made of that name (its
  DelegationSet name servers). A zone made again for the name (the old one kept or deleted and
  the registrar never updated) is then not delegated, as on AWS. Kinder than the internet in
  one way: once the first zone is deleted, the next oldest counts as the registered one.

Other record types get no records (NOERROR) for a name with a zone, else NXDOMAIN.
"""

from __future__ import annotations

import socketserver
from collections.abc import Callable
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from moto.route53.models import FakeZone, route53_backends

from bootstrap_local.served import Served

# name (any case, trailing dot or not) -> the NS names public DNS answers, None for NXDOMAIN.
Delegation = Callable[[str], list[str] | None]
# What Route 53 gives its NS records (two days).
NS_TTL = 172800


def bare(name: str) -> str:
    return name.rstrip(".").lower()


def public_zones() -> list[FakeZone]:
    """Every account's public hosted zones, each account's in the order they were made."""
    found: list[FakeZone] = []
    for account in list(route53_backends.values()):
        for backend in list(account.values()):
            # moto serves requests on threads: copy before reading.
            found += [zone for zone in list(backend.zones.values()) if not zone.private_zone]
    return found


def _values(records: list[Any]) -> list[str]:
    # moto keeps a zone's own NS values as strings, changed records as {"Value": ...}.
    return [str(r["Value"] if isinstance(r, dict) else r) for r in records]


def _delegated_by(parent: FakeZone, name: str) -> list[str] | None:
    held = [r for r in parent.rrsets if r.type == "NS" and bare(r.name) == name]
    return _values(held[0].records) if held else None


def moto_delegation(name: str) -> list[str] | None:
    """The NS names public DNS would answer for `name` from emulated Route 53 (see the module)."""
    name = bare(name)
    zones = public_zones()
    own = [zone for zone in zones if bare(zone.name) == name]
    if not own:
        return None
    labels = name.split(".")
    for start in range(1, len(labels)):
        parent = [zone for zone in zones if bare(zone.name) == ".".join(labels[start:])]
        if parent:
            return _delegated_by(parent[0], name)
    servers = own[0].delegation_set.name_servers if own[0].delegation_set else []
    return list(servers)


def answer(query: dns.message.Message, delegation: Delegation) -> dns.message.Message:
    """The authoritative response to `query`: NS records from `delegation`, else none."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    for question in query.question:
        servers = delegation(question.name.to_text())
        if servers is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.NS and servers:
            absolute = [server.rstrip(".") + "." for server in servers]
            response.answer.append(
                dns.rrset.from_text_list(question.name, NS_TTL, "IN", "NS", absolute)
            )
    return response


class _Server(socketserver.ThreadingUDPServer):
    daemon_threads = True
    delegation: Delegation


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        data, sock = self.request
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return  # not a DNS query: dropped, as a name server does
        sock.sendto(answer(query, self.server.delegation).to_wire(), self.client_address)


class DnsResponder(Served):
    """The responder on 127.0.0.1 (`port` 0: a free one), answering from `delegation`."""

    def __init__(self, delegation: Delegation = moto_delegation, port: int = 0) -> None:
        server = _Server(("127.0.0.1", port), _Handler)
        server.delegation = delegation
        super().__init__(server)

    @property
    def address(self) -> str:
        """`host:port`, as the emulator target and BOOTSTRAP_SERVER_DNS_RESOLVER name it."""
        host, port = self.host_port
        return f"{host}:{port}"
