"""EC2 as AWS answers it where an out-of-band change followed by a re-apply needs it.

- DeleteNatGateway: moto only marks the gateway `deleted`. Its Elastic IP stays associated
  with the gateway's network interface, and that interface stays, so re-creating the gateway
  with the same EIP (what Terraform does after a NAT gateway was deleted by hand) fails with
  `Resource.AlreadyAssociated`. AWS disassociates the address (it stays allocated) and deletes
  the gateway's interface; so does this patch (tests/unit/local/test_moto_server.py).

- Revoking a security group rule by an ID the group does not hold: AWS answers
  `InvalidSecurityGroupRuleId.NotFound`, which the AWS provider skips (the rule is gone, as
  wanted); moto answers `InvalidPermission.NotFound`, which fails the apply. The provider's
  `aws_default_security_group` can list one rule twice and revoke it twice
  (tests/unit/local/test_moto_security_groups.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.ec2.exceptions import InvalidSecurityGroupRuleIdNotFoundError
from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend
from moto.ec2.models.security_groups import SecurityGroupBackend

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


def nat_gateways_like_aws() -> None:
    """Deleting a NAT gateway releases its attachments (see the module's docstring)."""
    current = NatGatewayBackend.delete_nat_gateway
    if not getattr(current, "aws_like", False):
        patched: Any = _deleting_like_aws(current)
        NatGatewayBackend.delete_nat_gateway = patched  # type: ignore[method-assign]


def security_group_rules_like_aws() -> None:
    """Revokes that name a rule ID the group does not hold (see the module's docstring)."""
    for direction in ("ingress", "egress"):
        name = f"revoke_security_group_{direction}"
        revoke = getattr(SecurityGroupBackend, name)
        if not getattr(revoke, "aws_like", False):
            setattr(SecurityGroupBackend, name, _unknown_rule_ids_like_aws(revoke, direction))


def _unknown_rule_ids_like_aws(revoke: Callable[..., Any], direction: str) -> Callable[..., Any]:
    """A revoke naming rule IDs answers as AWS does for an ID the group does not hold."""

    @functools.wraps(revoke)
    def revoke_rules(backend: Any, **arguments: Any) -> Any:
        group = backend.get_security_group_by_name_or_id(
            arguments.get("group_name_or_id"), arguments.get("vpc_id")
        )
        if group is not None:
            held = {rule.id for rule in getattr(group, f"{direction}_rules")}
            for rule_id in arguments.get("security_rule_ids") or []:
                if rule_id not in held:
                    raise InvalidSecurityGroupRuleIdNotFoundError(rule_id)
        return revoke(backend, **arguments)

    revoke_rules.__dict__["aws_like"] = True
    return revoke_rules
