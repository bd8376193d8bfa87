"""What counts as drift where Terraform's own diff cannot say, and what the user ignores.

- companion resources: attributes made of separate resources (a role's policy attachments);
- mirrors: resources that restate such an attribute whole (a role's exclusive attachments);
- attached attributes: filled in by AWS while another resource is attached, or derived by it;
- tag mirrors: `tags_all` repeating `tags`;
- ignore patterns `<address glob>[:<attribute glob>]`, e.g. `aws_ecs_service.*:desired_count`.

The ignore list is empty by default: the benign churn seen right after a bootstrap (null vs
empty values, attributes filled in by companion resources, AWS-assigned association attributes,
`tags_all` mirroring `tags`) is recognised structurally here, so nothing security-relevant (a
policy attached by hand, a rogue ingress rule) is hidden by a blanket pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.drift.findings import Finding


def _route(route: dict[str, Any]) -> dict[str, Any]:
    """An `aws_route` as the element of its route table's `route` attribute."""
    element = {k: v for k, v in route.items() if k.endswith(("_id", "_arn"))}
    element.pop("route_table_id", None)
    element.pop("id", None)
    element["cidr_block"] = route.get("destination_cidr_block")
    element["ipv6_cidr_block"] = route.get("destination_ipv6_cidr_block")
    return element


def _security_group_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """An `aws_vpc_security_group_{ingress,egress}_rule` as an element of its group's `ingress`
    or `egress` attribute (the form AWS reports a group's rules in)."""
    every_port = rule.get("ip_protocol") == "-1"
    return {
        "cidr_blocks": [rule["cidr_ipv4"]] if rule.get("cidr_ipv4") else [],
        "description": rule.get("description") or "",
        "from_port": 0 if every_port else rule.get("from_port"),
        "ipv6_cidr_blocks": [rule["cidr_ipv6"]] if rule.get("cidr_ipv6") else [],
        "prefix_list_ids": [rule["prefix_list_id"]] if rule.get("prefix_list_id") else [],
        "protocol": rule.get("ip_protocol"),
        "security_groups": (
            [rule["referenced_security_group_id"]]
            if rule.get("referenced_security_group_id")
            else []
        ),
        "self": False,
        "to_port": 0 if every_port else rule.get("to_port"),
    }


@dataclass(frozen=True)
class _Companion:
    """Separate resources that make up an attribute (a role's inline policies are its
    `aws_iam_role_policy` resources).

    Terraform does not manage such an attribute on the owner: it recorded it empty when it
    created the owner, so every refresh shows it "changed"; and after any later apply, the state
    holds whatever was there, a policy attached by hand included, so that one is no longer drift
    to Terraform. The value the code declares is what the companions say; that is what the
    refreshed value is compared with, on every resource, drifted in Terraform's eyes or not.
    """

    companion_type: str
    link: str
    element: Callable[[dict[str, Any]], Any]
    collection: bool = True
    # Only where the owner has at least one such companion: a security group's rules are either
    # separate resources or inline blocks (which Terraform itself diffs), never both.
    when_present: bool = False


COMPANIONS: dict[tuple[str, str], _Companion] = {
    ("aws_iam_role", "inline_policy"): _Companion(
        "aws_iam_role_policy", "role", lambda c: {k: c[k] for k in ("name", "policy")}
    ),
    ("aws_iam_role", "managed_policy_arns"): _Companion(
        "aws_iam_role_policy_attachment", "role", lambda c: c["policy_arn"]
    ),
    ("aws_route_table", "route"): _Companion("aws_route", "route_table_id", _route),
    ("aws_security_group", "ingress"): _Companion(
        "aws_vpc_security_group_ingress_rule",
        "security_group_id",
        _security_group_rule,
        when_present=True,
    ),
    ("aws_security_group", "egress"): _Companion(
        "aws_vpc_security_group_egress_rule",
        "security_group_id",
        _security_group_rule,
        when_present=True,
    ),
    # Ours declares both inline (Terraform diffs them itself); a queue of other code may not.
    ("aws_sqs_queue", "policy"): _Companion(
        "aws_sqs_queue_policy", "queue_url", lambda c: c["policy"], False, when_present=True
    ),
    ("aws_sqs_queue", "redrive_policy"): _Companion(
        "aws_sqs_queue_redrive_policy", "queue_url", lambda c: c["redrive_policy"], False, True
    ),
}
# Resources that restate, whole, a role attribute the companions above judge: a policy attached
# by hand is the role's `managed_policy_arns[+]` and again this resource's `policy_arns[+]`
# (and the plan's undo of it). Said once, on the role; these resources exist so that the next
# apply removes it.
MIRRORS: dict[str, frozenset[str]] = {
    "aws_iam_role_policy_attachments_exclusive": frozenset({"policy_arns"}),
    "aws_iam_role_policies_exclusive": frozenset({"policy_names"}),
    # A bucket's settings are resources of their own (versioning, encryption, policy, lifecycle,
    # ownership), each refreshed and judged itself; the bucket's deprecated attributes of the
    # same names restate them, as recorded before those resources were applied.
    "aws_s3_bucket": frozenset(
        {
            "versioning",
            "server_side_encryption_configuration",
            "policy",
            "lifecycle_rule",
            "grant",
            "acl",
        }
    ),
}
# Attributes AWS fills in when another resource attaches to this one (an EIP used by a NAT
# gateway gets an association, an interface and a private IP): theirs while that resource exists,
# or until it was deleted outside Terraform (that deletion is the finding, said once).
ATTACHED: dict[str, tuple[frozenset[str], tuple[tuple[str, str], ...]]] = {
    "aws_eip": (
        frozenset({"association_id", "network_interface", "private_ip", "private_dns", "instance"}),
        (("aws_nat_gateway", "allocation_id"), ("aws_eip_association", "allocation_id")),
    ),
}


# Attributes AWS derives from other resources or from the clock, never set by the code: a target
# group's load balancers (the listeners forwarding to it say so), a database's latest restorable
# time (it moves with every backup).
DERIVED: dict[str, frozenset[str]] = {
    "aws_lb_target_group": frozenset({"load_balancer_arns"}),
    "aws_db_instance": frozenset({"latest_restorable_time"}),
}


def names_of(values: dict[str, Any]) -> set[str]:
    """What other resources call this one by: its id, name and ARN."""
    return {str(values[k]) for k in ("id", "name", "arn") if values.get(k)}


def mirrored(kind: str) -> frozenset[str]:
    """The attributes of a resource of type `kind` that only restate another's (see MIRRORS)."""
    return MIRRORS.get(kind, frozenset())


def _references(
    resources: list[dict[str, Any]], kind: str, link: str, names: set[str]
) -> list[Any]:
    return [
        r["values"]
        for r in resources
        if r.get("type") == kind and str((r.get("values") or {}).get(link)) in names
    ]


def declared_values(
    resource: dict[str, Any],
    resources: list[dict[str, Any]],
    gone: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], set[str]]:
    """(attribute -> what the code declares it to be, attributes owned by attached resources).

    `resources` is every resource of the refreshed state, in `show -json` form; `gone` the ones
    deleted outside Terraform, as they were before (the refreshed state no longer has them).
    """
    kind, values = resource.get("type", ""), resource.get("values") or {}
    names = names_of(values)
    declared: dict[str, Any] = {}
    for (owner, attribute), companion in COMPANIONS.items():
        if owner == kind:
            # A companion deleted by hand is not counted: its deletion is the finding.
            found = _references(resources, companion.companion_type, companion.link, names)
            if companion.when_present and not found:
                continue
            elements = [companion.element(v) for v in found]
            declared[attribute] = elements if companion.collection else next(iter(elements), None)
    attached: set[str] = set()
    if kind in ATTACHED:
        attributes, by = ATTACHED[kind]
        holders = [*resources, *(gone or [])]
        if any(_references(holders, other, link, names) for other, link in by):
            attached = set(attributes)
    return declared, attached | DERIVED.get(kind, frozenset())


def without_tag_mirrors(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """`tags_all.X` repeats `tags.X` (tags_all = default tags + tags): say it once."""
    seen = {(p.removeprefix("tags"), b, a) for p, b, a in rows if p.startswith("tags")}
    return [
        (p, b, a)
        for p, b, a in rows
        if not (p.startswith("tags_all") and (p.removeprefix("tags_all"), b, a) in seen)
    ]


_MODULE_PREFIX = re.compile(r"^(module\.[^.\[]+(\[[^\]]*\])?\.)+")


def ignored_by(finding: Finding, patterns: Iterable[str]) -> str | None:
    """The first pattern `<address glob>[:<attribute glob>]` that matches, or None.

    The address glob is tried on the full address and on it without its `module.x.` prefixes,
    so `aws_ecs_service.*:desired_count` matches `module.worker_stack.aws_ecs_service.this`.
    """
    addresses = {finding.resource, _MODULE_PREFIX.sub("", finding.resource)}
    for pattern in patterns:
        address_glob, _, attribute_glob = pattern.partition(":")
        if not any(fnmatchcase(a, address_glob) for a in addresses):
            continue
        if not attribute_glob or fnmatchcase(finding.attribute, attribute_glob):
            return pattern
    return None


def ignore_patterns(settings: BootstrapSettings, worker_vars: dict[str, Any] | None) -> list[str]:
    """The user's patterns (`drift_ignore`), plus what the stack hands to AWS to manage."""
    patterns = list(settings.drift_ignore)
    if worker_vars and worker_vars.get("enable_autoscaling"):
        # Application Auto Scaling owns the desired count once it is on.
        patterns.append("aws_ecs_service.*:desired_count")
    return patterns


def without_ignored(findings: list[Finding], patterns: list[str]) -> tuple[list[Finding], int]:
    """(the findings no pattern matches, how many were ignored)."""
    kept = [f for f in findings if ignored_by(f, patterns) is None]
    return kept, len(findings) - len(kept)
