"""Adoption: take over what a killed apply created in AWS but never wrote into the state.

During an apply Terraform saves the state at most every 20 s, so an apply killed outright
(SIGKILL, a lost machine) leaves what it created in its last seconds in AWS and out of the
state. Planned again, those are creates: named ones would fail with "already exists", unnamed
ones (a VPC, a NAT gateway, an Elastic IP) would exist twice. So before a plan is used, each of
its creates is looked up in AWS by its identity; what is unambiguously this stack's is brought
in with `import {}` blocks and the stack is planned again. The imports are part of that plan:
shown, approved and applied like any other change, nothing is written before the apply.

Children are found by their parents' ids (a route by its route table, an association by its
subnet and route table), known only once the parents are imported: hence a few rounds.

A teardown leaves one such resource on purpose: the Prefect API secret, scheduled for deletion
for its recovery window, during which AWS refuses to create its name again. The next bootstrap
finds it the same way, restores it (the one lookup that writes: it only cancels the deletion)
and adopts it, so tear down and bootstrap again works at any time.

The matching here is pure; `adoption_aws.AwsLookup` asks AWS, only for the planned creates.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap_flows.terraform.runner import PlanResult, Terraform, TerraformError

# Named resources: these attributes name them uniquely in the account and region, and every name
# carries the environment's (`<prefix>-<env>...`), so an exact match is this environment's.
NAMED: dict[str, tuple[str, ...]] = {
    "aws_iam_role": ("name",),
    "aws_secretsmanager_secret": ("name",),
    "aws_ecr_repository": ("name",),
    "aws_cloudwatch_log_group": ("name",),
    "aws_ecs_cluster": ("name",),
    "aws_ecs_service": ("cluster", "name"),
    "aws_ecs_task_definition": ("family",),
    "aws_sqs_queue": ("name",),
    "aws_cloudwatch_event_rule": ("name",),
    "aws_security_group": ("name", "vpc_id"),
    "aws_lb": ("name",),
    "aws_lb_target_group": ("name",),
    "aws_db_instance": ("identifier",),
    "aws_db_subnet_group": ("name",),
    "aws_s3_bucket": ("bucket",),
}
# Unnamed EC2 resources, found by their tags (the stack's default tags Project, Environment and
# Stack, and a Name of their own), with the prefix of their ids.
TAGGED: dict[str, str] = {
    "aws_vpc": "vpc-",
    "aws_subnet": "subnet-",
    "aws_internet_gateway": "igw-",
    "aws_route_table": "rtb-",
    "aws_eip": "eipalloc-",
    "aws_nat_gateway": "nat-",
    "aws_flow_log": "fl-",
}
# Found by their parents' ids, once those are known.
BY_PARENT: dict[str, tuple[str, ...]] = {
    "aws_route": ("route_table_id", "destination_cidr_block"),
    "aws_route_table_association": ("route_table_id", "subnet_id"),
}
# Tags every resource of a stack carries (providers.tf default_tags): a tag match must include
# them, so nothing of another environment or stack is ever taken.
OWNER_TAGS = ("Project", "Environment", "Stack")
# Not adopted, on purpose: their create is idempotent in AWS (a put: inline policies, policy
# attachments, queue and redrive policies, ECR lifecycle policy, a bucket's settings, capacity
# providers, event targets, alarms, scaling targets and policies), they have no AWS object of
# their own (the exclusive-policy guards, a certificate validation), or creating one adopts what
# exists (a VPC's default security group). A killed server-stack apply can still leave a
# certificate, a listener, DNS records or security-group rules behind: not looked up yet.
IDEMPOTENT = frozenset(
    {
        "aws_iam_role_policy",
        "aws_iam_role_policy_attachment",
        "aws_iam_role_policy_attachments_exclusive",
        "aws_iam_role_policies_exclusive",
        "aws_sqs_queue_policy",
        "aws_sqs_queue_redrive_policy",
        "aws_ecr_lifecycle_policy",
        "aws_ecs_cluster_capacity_providers",
        "aws_cloudwatch_event_target",
        "aws_cloudwatch_metric_alarm",
        "aws_appautoscaling_target",
        "aws_appautoscaling_policy",
        "aws_acm_certificate_validation",
        "aws_default_security_group",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_lifecycle_configuration",
    }
)
# Parents, then their children, then the plan that imports them all.
MAX_ROUNDS = 3
IMPORTS_FILE = "adopted_imports.tf"


class AmbiguousAdoption(TerraformError):
    """More than one resource in AWS could be the one a planned create means: nothing is taken."""


@dataclass(frozen=True)
class Create:
    """A planned create that AWS may already hold: its address, type and identity."""

    address: str
    type: str
    identity: Mapping[str, str]


@dataclass(frozen=True)
class Existing:
    """A resource AWS holds: its import ID and the attributes an identity is matched against."""

    type: str
    id: str
    attributes: Mapping[str, str]
    label: str

    def matches(self, create: Create) -> bool:
        return self.type == create.type and all(
            self.attributes.get(key) == value for key, value in create.identity.items()
        )


Lookup = Callable[[Sequence[Create]], list[Existing]]
"""What AWS holds that could be one of these creates (candidates; the matching is ours)."""


def identity(kind: str, after: Mapping[str, Any]) -> dict[str, str] | None:
    """What makes a resource of `kind` with these planned values this one (None: not known yet,
    or nothing to look for)."""
    if kind in TAGGED:
        tags = after.get("tags_all")
        if not isinstance(tags, dict) or not all(tags.get(k) for k in (*OWNER_TAGS, "Name")):
            return None  # a tag match without the owner's tags and a Name could take anything
        return {f"tag:{key}": str(value) for key, value in tags.items()}
    keys = NAMED.get(kind) or BY_PARENT.get(kind)
    if keys is None:
        return None
    values = {key: after.get(key) for key in keys}
    if not all(isinstance(value, str) and value for value in values.values()):
        return None  # a parent still to be created (or imported) first
    return {key: str(value) for key, value in values.items()}


def planned_creates(shown: Mapping[str, Any]) -> list[Create]:
    """The creates of a `terraform show -json` plan whose identity is known now."""
    found = []
    for change in shown.get("resource_changes") or []:
        if change.get("mode") != "managed" or change["change"].get("actions") != ["create"]:
            continue
        known = identity(change["type"], change["change"].get("after") or {})
        if known is not None:
            found.append(Create(change["address"], change["type"], known))
    return found


def _modules(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield module
    for child in module.get("child_modules") or []:
        yield from _modules(child)


def owned_ids(shown: Mapping[str, Any]) -> set[str]:
    """The IDs (and ARNs) of everything the state records: never a candidate for another address."""
    root = ((shown.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    return {
        str(value)
        for module in _modules(root)
        for resource in module.get("resources") or []
        for key in ("id", "arn")
        if (value := (resource.get("values") or {}).get(key))
    }


def match(
    creates: Sequence[Create], existing: Sequence[Existing], owned: set[str]
) -> dict[str, Existing]:
    """address -> the one resource in AWS it is, for each create that exists already.

    Raises AmbiguousAdoption, naming every case at once, when a create matches more than one
    resource or one resource matches more than one create: which is which would be a guess.
    """
    free = [each for each in existing if each.id not in owned]
    chosen: dict[str, Existing] = {}
    problems: list[str] = []
    for create in creates:
        found = [each for each in free if each.matches(create)]
        if len(found) > 1:
            problems.append(f"{create.address} matches {_labels(found)}")
        elif found:
            chosen[create.address] = found[0]
    claimed: dict[str, list[str]] = {}
    for address, each in chosen.items():
        claimed.setdefault(each.id, []).append(address)
    for resource_id, addresses in claimed.items():
        if len(addresses) > 1:
            problems.append(f"{resource_id} matches each of {', '.join(addresses)}")
    if problems:
        raise AmbiguousAdoption(
            "AWS holds resources of this stack that its Terraform state does not record (left by "
            "an interrupted apply or an earlier failure), and which one is which is ambiguous:\n"
            + "\n".join(f"- {problem}" for problem in problems)
            + "\nNothing was changed. Delete the ones that should not exist (or import the right "
            "one with `terraform import`), then run bootstrap again."
        )
    return chosen


def _labels(found: Sequence[Existing]) -> str:
    return ", ".join(each.label for each in found)


def render_imports(imports: Mapping[str, str]) -> str:
    """`import {}` blocks (HCL) for address -> import ID."""
    blocks = []
    for address, resource_id in sorted(imports.items()):
        # A JSON string is an HCL string, except that "${" and "%{" would start a template.
        quoted = json.dumps(resource_id).replace("${", "$${").replace("%{", "%%{")
        blocks.append(f"import {{\n  to = {address}\n  id = {quoted}\n}}\n")
    return (
        "# Written by bootstrap: resources AWS holds that the state did not record.\n"
        + "\n".join(blocks)
    )


def config_with_imports(stack_dir: Path, root: Path, imports: Mapping[str, str]) -> Path:
    """The stack's configuration under `root` plus the import blocks; returns its directory.

    Import blocks must sit in the root module, and the stack's directory is shared by every
    environment: so a tree of links mirrors the stack and its siblings (modules are sourced as
    `../../modules/...`) under the environment's own work dir, with the imports beside it.
    """
    shutil.rmtree(root, ignore_errors=True)
    tree = stack_dir.resolve().parent.parent
    mirror = root / stack_dir.resolve().relative_to(tree)
    mirror.mkdir(parents=True)
    for entry in tree.iterdir():
        if entry.name != mirror.parent.name:
            (root / entry.name).symlink_to(entry)
    for entry in stack_dir.resolve().iterdir():
        if entry.is_file():
            (mirror / entry.name).symlink_to(entry)
    (mirror / IMPORTS_FILE).write_text(render_imports(imports))
    return mirror


def adopt(
    terraform: Terraform,
    plan: PlanResult,
    replan: Callable[[Path], PlanResult],
    lookup: Lookup,
) -> PlanResult:
    """The plan to use: `plan` itself, or a plan that also imports what AWS already holds.

    Costs nothing when the plan creates nothing; otherwise one `show -json` and the lookups.
    """
    imports: dict[str, str] = {}
    logger = terraform.logger
    for _ in range(MAX_ROUNDS):
        if not any(change.action == "create" for change in plan.changes):
            return plan
        shown = terraform.show_json(plan.plan_file)
        creates = planned_creates(shown)
        if not creates:
            return plan
        owned = owned_ids(shown) | set(imports.values())
        found = match(creates, lookup(creates), owned)
        if not found:
            return plan
        for address, each in sorted(found.items()):
            logger.warning(
                "Adopting %s <- %s: AWS holds it, the %s state does not record it (an "
                "interrupted apply, or a teardown's recovery window); importing instead of "
                "creating it again",
                address,
                each.label,
                terraform.stack_dir.name,
            )
        imports |= {address: each.id for address, each in found.items()}
        config = config_with_imports(terraform.stack_dir, terraform.work_dir / "adoption", imports)
        plan = replan(config)
    return plan
