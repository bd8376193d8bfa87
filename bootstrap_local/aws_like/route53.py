"""Route 53 as AWS answers it where the delegation check (bootstrap_flows/safety/delegation.py)
needs it.

- A hosted zone made without a reusable delegation set: AWS gives each one four name servers of
  its own (two zones of one name never share them, which is how a registrar that still points
  at a deleted zone's servers is told from the zone made again). moto gives every zone the same
  four (ns-2048.awsdns-64.com, ...), so a second zone of a name would look delegated. This patch
  draws each delegation set's four as AWS names them: one each under .com, .net, .org and
  .co.uk (tests/unit/local/test_moto_route53.py).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

from moto.route53.models import DelegationSet

# AWS's name server domains, each with its block of 512 server numbers (ns-0 ... ns-2047).
DOMAINS = ("com", "net", "org", "co.uk")


# Numbers handed out in this process: a second zone drawing one of the first's four by chance
# (4 in 512) would look delegated to the registrar's old servers, which Route 53 avoids.
_GIVEN: set[int] = set()


def _draw(block: int) -> int:
    free = [n for n in range(block * 512, (block + 1) * 512) if n not in _GIVEN]
    if not free:  # 512 zones in one process: start over rather than fail
        _GIVEN.difference_update(range(block * 512, (block + 1) * 512))
        return _draw(block)
    number = free[secrets.randbelow(len(free))]
    _GIVEN.add(number)
    return number


def name_servers() -> list[str]:
    """Four name servers as Route 53 assigns them: `ns-<n>.awsdns-<n // 32>.<domain>`, none
    given to another delegation set in this process."""
    numbers = [_draw(block) for block in range(len(DOMAINS))]
    return [
        f"ns-{n}.awsdns-{n // 32:02d}.{domain}" for n, domain in zip(numbers, DOMAINS, strict=True)
    ]


def _own_name_servers(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def delegation_set(
        self: DelegationSet,
        caller_reference: str,
        given: list[str] | None,
        delegation_set_id: str | None,
    ) -> None:
        init(self, caller_reference, given or name_servers(), delegation_set_id)

    delegation_set.__dict__["aws_like"] = True
    return delegation_set


def delegation_sets_like_aws() -> None:
    """Each new delegation set gets name servers of its own (see the module's docstring)."""
    current = DelegationSet.__init__
    if not getattr(current, "aws_like", False):
        patched: Any = _own_name_servers(current)
        DelegationSet.__init__ = patched  # type: ignore[method-assign]
