"""moto's server as the embedded default runs it: moto 5.2.6, made to behave like AWS where
an out-of-band change followed by a re-apply needs it to.

- DeleteNatGateway: moto only marks the gateway `deleted`. Its Elastic IP stays associated
  with the gateway's network interface, and that interface stays, so re-creating the gateway
  with the same EIP (what Terraform does after a NAT gateway was deleted by hand) fails with
  `Resource.AlreadyAssociated`. AWS disassociates the address (it stays allocated) and deletes
  the gateway's interface; so does this server.

- SQS: moto returns a queue's RedrivePolicy re-serialised with spaces, and SetQueueAttributes
  clears the queue's Policy whenever the call omits it. AWS returns the compact document and
  changes only the attributes passed. Without both, a queue declaring its redrive and access
  policy inline (infrastructure/terraform/modules/observer) would show a diff on every plan.

- Revoking a security group rule by an ID the group does not hold: AWS answers
  `InvalidSecurityGroupRuleId.NotFound`, which the AWS provider skips (the rule is gone, as
  wanted); moto answers `InvalidPermission.NotFound`, which fails the apply. The provider's
  `aws_default_security_group` can list one rule twice and revoke it twice; so does AWS answer
  here.

- S3 bucket policies: moto denies every object request a conditioned statement covers (it
  supplies no condition keys), so a TLS-only policy would refuse all access; here a statement
  whose condition cannot hold does not apply, as on AWS.

Each gap has a unit test that shows stock moto still has it (tests/unit/local/test_moto_server.py,
test_moto_queues.py, test_moto_bucket_policy.py, test_moto_security_groups.py): when one fails
after a moto upgrade, moto does what AWS does there; drop that patch and its tests.

The other deletions the drift tests make by hand (an ECR repository with `force`, a role policy
detached, an ingress rule revoked) leave nothing behind in moto.

`--record-role-calls FILE` writes every request signed with a key the emulated STS issued for a
role (AssumeRole: what the local ECS runtime hands each task and agent) to FILE, in moto's
recorder format, without the session token. Only those: the requests made with the emulator's
own keys (Terraform, the flows, the runtime) carry secret values in their bodies (PutSecretValue)
and are nobody's role's calls. tests/support/aws_calls.py reads the file.

Run it with moto's own arguments: `python -m bootstrap_local.moto_server -H 127.0.0.1 -p
4566`. The product never imports this: it is what the local stack and the tests start as AWS.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto import server
from moto.ec2.exceptions import InvalidSecurityGroupRuleIdNotFoundError
from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import get_account_id_from, iam_backends
from moto.moto_api import recorder
from moto.s3.models import FakeBucket
from moto.sqs.models import Queue
from moto.utilities.utils import PARTITION_NAMES

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
    """Make this process's moto behave like AWS where moto 5.2.6 does not (idempotent)."""
    current = NatGatewayBackend.delete_nat_gateway
    if not getattr(current, "aws_like", False):
        patched: Any = _deleting_like_aws(current)
        NatGatewayBackend.delete_nat_gateway = patched  # type: ignore[method-assign]
    _queues_like_aws()
    _bucket_policies_like_aws()
    security_group_rules_like_aws()


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


def _bucket_policies_like_aws() -> None:
    """A bucket policy statement with a condition applies only when the condition holds (AWS).
    moto 5.2.6 supplies no condition keys to S3's policy check and turns a statement whose
    condition fails into a deny, whatever its effect: a TLS-only policy (deny when
    `aws:SecureTransport` is false, infrastructure/terraform/modules/storage) would refuse every
    object request. Here such a statement does not apply, as on AWS over HTTPS."""
    bucket_class: Any = FakeBucket
    if getattr(bucket_class.get_permission, "aws_like", False):
        return

    def get_permission(bucket: Any, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(bucket.policy)
        statements = document.get("Statement", [])
        listed = statements if isinstance(statements, list) else [statements]
        applicable = [statement for statement in listed if not statement.get("Condition")]
        if not applicable:
            return PermissionResult.NEUTRAL
        policy = IAMPolicy(json.dumps(document | {"Statement": applicable}))
        return policy.is_action_permitted(action, resource)

    get_permission.__dict__["aws_like"] = True
    bucket_class.get_permission = get_permission


def _queues_like_aws() -> None:
    """Queue attributes as AWS keeps and returns them (see the module's docstring)."""
    queue_class: Any = Queue  # moto's models are loosely typed; patched by name below
    if getattr(queue_class._set_attributes, "aws_like", False):
        return
    attributes_of = queue_class.attributes.fget
    set_attributes = queue_class._set_attributes

    def attributes(queue: Any) -> dict[str, Any]:
        result: dict[str, Any] = attributes_of(queue)
        if queue.redrive_policy:
            result["RedrivePolicy"] = json.dumps(queue.redrive_policy, separators=(",", ":"))
        return result

    def _set_attributes(queue: Any, changed: dict[str, Any], now: float | None = None) -> None:
        policy = getattr(queue, "policy", None)
        set_attributes(queue, changed, now)
        if "Policy" not in changed:
            queue.policy = policy

    _set_attributes.__dict__["aws_like"] = True
    queue_class.attributes = property(attributes)
    queue_class._set_attributes = _set_attributes


SIGNING_KEY = re.compile(r"Credential=([A-Z0-9]+)/")
SESSION_TOKEN = "x-amz-security-token"


def role_of_key(access_key_id: str) -> str | None:
    """The role ARN a key was issued for by the emulated STS's AssumeRole, else None."""
    account = iam_backends[get_account_id_from(access_key_id)]
    for partition in PARTITION_NAMES:
        key = account[partition].access_keys.get(access_key_id)
        if key is not None:
            return key.role_arn
    return None


class _WithoutSessionToken:
    """A request as moto's recorder reads it, minus the session token (a credential)."""

    def __init__(self, request: Any) -> None:
        self._request = request
        self.headers = {
            name: value for name, value in request.headers.items() if name.lower() != SESSION_TOKEN
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def record_role_calls(path: Path) -> None:
    """Record, to `path`, the requests signed with keys of assumed roles (see the module)."""
    if getattr(recorder._record_request, "role_calls", False):
        return
    # Typed as moto's Request; the wrapper below stands in for one (it reads only attributes).
    record: Callable[[Any, bytes | None], None] = recorder._record_request
    # moto serves requests on threads; one entry must stay one line of the file.
    lock = threading.Lock()

    def record_role_call(request: Any, body: bytes | None = None) -> None:
        signed = SIGNING_KEY.search(request.headers.get("Authorization", ""))
        if signed is None or role_of_key(signed.group(1)) is None:
            return
        with lock:
            record(_WithoutSessionToken(request), body)

    record_role_call.__dict__["role_calls"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    recorder._location = str(path)
    recorder._user_enabled = True
    recorder._record_request = record_role_call  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--record-role-calls", type=Path, default=None)
    ours, moto_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    patch()
    if ours.record_role_calls is not None:
        record_role_calls(ours.record_role_calls)
    # moto's own parser falls back to sys.argv when given no arguments: ours are not its.
    sys.argv[1:] = moto_args
    server.main(moto_args)


if __name__ == "__main__":
    main()
