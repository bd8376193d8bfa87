"""moto's server as the embedded default runs it: moto 5.2.1, made to behave like AWS where
an out-of-band change followed by a re-apply needs it to.

- DeleteNatGateway: moto only marks the gateway `deleted`. Its Elastic IP stays associated
  with the gateway's network interface, and that interface stays, so re-creating the gateway
  with the same EIP (what Terraform does after a NAT gateway was deleted by hand) fails with
  `Resource.AlreadyAssociated`. AWS disassociates the address (it stays allocated) and deletes
  the gateway's interface; so does this server.

The other deletions the drift tests make by hand (an ECR repository with `force`, a role policy
detached, an ingress rule revoked) leave nothing behind in moto.

Run it with moto's own arguments: `python -m bootstrap_flows.local.moto_server -H 127.0.0.1 -p
4566`. The product never imports this: it is what the local stack and the tests start as AWS.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from moto import server
from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend

DeleteNatGateway = Callable[[NatGatewayBackend, str], NatGateway]


def release_nat_attachments(backend: Any, gateway: NatGateway) -> None:
    """What AWS does when a NAT gateway is deleted: its EIP is disassociated (not released) and
    its network interface deleted. Safe to repeat: a second call finds nothing to undo."""
    interface = getattr(gateway, "_eni", None)
    if interface is None:
        return
    for address in list(backend.addresses):
        if address.eni is interface:
            backend.disassociate_address(address=address.public_ip)
    backend.enis.pop(interface.id, None)


def _deleting_like_aws(delete: DeleteNatGateway) -> DeleteNatGateway:
    @functools.wraps(delete)
    def delete_nat_gateway(backend: NatGatewayBackend, nat_gateway_id: str) -> NatGateway:
        gateway = delete(backend, nat_gateway_id)
        release_nat_attachments(backend, gateway)
        return gateway

    delete_nat_gateway.__dict__["aws_like"] = True
    return delete_nat_gateway


def patch() -> None:
    """Make this process's moto behave like AWS where moto 5.2.1 does not (idempotent)."""
    current = NatGatewayBackend.delete_nat_gateway
    if not getattr(current, "aws_like", False):
        patched: Any = _deleting_like_aws(current)
        NatGatewayBackend.delete_nat_gateway = patched  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    patch()
    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
