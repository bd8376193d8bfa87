"""Whether public DNS delegates a Route 53 zone's name to that zone, for a bootstrap with the
server stack and server_route53_zone_id.

ACM's DNS validation and the worker find the server's records through the name servers the
registrar (or the parent zone) lists for the zone's name. When those are not the zone's own four
(a zone made again after a delete, a second zone of the same name, a sub-zone the parent never
delegated), the records bootstrap writes are never seen and ACM waits 75 minutes and fails. So
preflight asks public DNS for the NS records of the zone's apex and compares them with the
zone's DelegationSet name servers (route53:GetHostedZone). The zone's own apex NS records prove
nothing: Route 53 makes them with the zone.

The look-up asks this machine's resolver, or the one the target names (an emulator answers for
its own Route 53), or server_dns_resolver's. A look-up that cannot be made (no resolver, no
answer) refuses with its cause: a machine with no public DNS skips the check with
server_skip_delegation_check.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from bootstrap_flows.config.validation import resolver_address
from bootstrap_flows.safety.refusal import PreflightError

ACM_WAIT = "ACM's DNS validation would wait 75 minutes and fail"
# Per try, and for the whole look-up: two tries, so a missing resolver costs seconds, not 30.
TRY_SECONDS, LOOKUP_SECONDS = 2.0, 4.0
SKIP = "BOOTSTRAP_SERVER_SKIP_DELEGATION_CHECK=true"


class DelegationError(PreflightError):
    """Public DNS does not delegate the zone's name to the zone, or could not be asked."""


def bare(name: str) -> str:
    return name.rstrip(".").lower()


def delegated(public: Sequence[str], zone: Sequence[str]) -> bool:
    """Whether the NS names public DNS answers are the zone's name servers (any case and order,
    trailing dots ignored); no answer never is."""
    return bool(public) and {bare(n) for n in public} == {bare(n) for n in zone}


def resolver_for(address: str | None) -> dns.resolver.Resolver:
    """dnspython's resolver: this machine's (address None) or the one at `address`."""
    resolver = dns.resolver.Resolver(configure=address is None)
    if address is not None:
        host, port = resolver_address(address)
        resolver.nameservers, resolver.port = [host], port
    resolver.timeout, resolver.lifetime = TRY_SECONDS, LOOKUP_SECONDS
    resolver.cache = None
    return resolver


def _answered(failure: dns.resolver.NoNameservers) -> bool:
    """Whether every server answered (SERVFAIL, REFUSED) rather than failed to be asked."""
    errors = failure.kwargs.get("errors") or []
    return bool(errors) and all(len(e) > 4 and e[4] is not None for e in errors)


def look_up(name: str, address: str | None) -> tuple[list[str], str]:
    """The NS names public DNS answers for `name`, and what it answered in words; a look-up
    that cannot be made raises DelegationError with its cause."""
    asked = f"the resolver at {address}" if address else "this machine's resolver"
    try:
        answer = resolver_for(address).resolve(
            dns.name.from_text(bare(name) + "."), dns.rdatatype.NS, search=False
        )
    except dns.resolver.NXDOMAIN:
        return [], f"{asked} answers NXDOMAIN (no such name)"
    except dns.resolver.NoAnswer:
        return [], f"{asked} answers no NS records"
    except dns.resolver.NoNameservers as exc:
        if not _answered(exc):
            raise _cannot(name, asked, exc) from exc
        # A delegation to servers that do not serve the name (a deleted zone's) looks like this.
        return [], f"{asked} answers SERVFAIL ({exc}; a resolver without public DNS: {SKIP})"
    except (dns.exception.DNSException, OSError) as exc:
        raise _cannot(name, asked, exc) from exc
    found = sorted(bare(record.to_text()) for record in answer)
    return found, f"{asked} answers NS {', '.join(found)}"


def _cannot(name: str, asked: str, cause: Exception) -> DelegationError:
    return DelegationError(
        f"cannot look up the public NS records of {bare(name)} with {asked} "
        f"({type(cause).__name__}: {cause}) to check that it is delegated to "
        f"server_route53_zone_id; name a resolver that answers it (BOOTSTRAP_SERVER_DNS_RESOLVER), "
        f"or on a machine with no public DNS set {SKIP}"
    )


def check_delegation(zone_id: str, name: str, servers: Sequence[str], address: str | None) -> None:
    """Refuse zone `zone_id` (of `name`, with name servers `servers`) unless public DNS
    delegates `name` to those servers."""
    public, said = look_up(name, address)
    if delegated(public, servers):
        return
    theirs = ", ".join(sorted(bare(server) for server in servers))
    raise DelegationError(
        f"server_route53_zone_id {zone_id} is not the zone public DNS delegates {bare(name)} to: "
        f"asked for its NS records, {said}; the zone's name servers are {theirs}, so {ACM_WAIT}; "
        f"set the NS records of {bare(name)} at its registrar (or in its parent zone) to these "
        f"four, or give the zone {bare(name)} is delegated to"
    )
