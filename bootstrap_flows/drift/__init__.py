"""The `drift-check` flow: does the environment still match its code, settings and pool?

Checks, all read-only (no Terraform state lock, no environment lock, nothing created):

- each Terraform stack: `plan -refresh-only` (drift: what changed outside Terraform, attribute by
  attribute from `resource_drift[]`) and a normal plan (pending: code or settings never applied);
- the ECS work pool: exists, not paused, the template defaults bootstrap owns are as it set them;
- the worker: a recent heartbeat, and the ECS service running what it should;
- the image: the digest the pool and the worker stack point to is still in ECR.

Findings go to a table artifact and a summary artifact. The run ends Completed when clean, Failed
named "Drifted" when anything was found, Failed named "CheckFailed" when a check could not run
(credentials, network, a Terraform error): never the one for the other. An event is emitted only
when the set of findings changes (bookkeeping in the Prefect Variable `drift-<env>`), so a
drifted environment checked every 30 minutes notifies once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import ClientError
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import VariableCreate, VariableUpdate, WorkPoolUpdate
from prefect.client.schemas.objects import State
from prefect.events import emit_event
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture
from prefect.states import Completed, Failed
from pydantic import BaseModel, ConfigDict, Field

from bootstrap_flows import aws, work_pool
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.stages import preflight
from bootstrap_flows.locks import file_lock
from bootstrap_flows.settings import BootstrapSettings
from bootstrap_flows.terraform import platform_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.runner import Terraform
from bootstrap_flows.terraform.worker_stack import WorkerOutputs

Kind = Literal["drift", "pending", "prefect", "worker", "image"]
KINDS: tuple[Kind, ...] = ("drift", "pending", "prefect", "worker", "image")
Status = Literal["clean", "drifted", "check-failed", "skipped"]

# Ignore patterns `<address glob>[:<attribute glob>]`, e.g. `aws_ecs_service.*:desired_count`.
# Empty by default: the benign churn seen right after a bootstrap (null vs empty values,
# attributes filled in by companion resources, AWS-assigned association attributes, `tags_all`
# mirroring `tags`) is recognised structurally below, so nothing security-relevant (a policy
# attached by hand, a rogue ingress rule) is hidden by a blanket pattern.
# A worker heartbeats every `heartbeat_interval_seconds` (30 by default); this many missed
# beats in a row count as offline, the same allowance Prefect's own worker status uses.
DEFAULT_MISSED_HEARTBEATS = 3
DEFAULT_HEARTBEAT_INTERVAL = 30
# A service that is converging (a task starting or draining) is not drift: wait this long for
# runningCount to reach desiredCount before reporting it.
SERVICE_SETTLE_SECONDS = 60.0
# Events and the bookkeeping Variable have size limits (Variables: 5000 characters).
MAX_EVENT_FINDINGS = 200
MAX_VARIABLE_CHARS = 4500

EVENT_DETECTED = "bootstrap.drift.detected"
EVENT_RESOLVED = "bootstrap.drift.resolved"
EVENT_CHECK_FAILED = "bootstrap.drift.check-failed"

SENSITIVE = "(sensitive)"
NONE = "(none)"
UNKNOWN = "(known after apply)"
WHOLE = "(resource)"


# --- findings --------------------------------------------------------------------------------


class Finding(BaseModel):
    """One difference between what should be and what is."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    resource: str = Field(description="Terraform address, or `<object>.<name>` outside Terraform.")
    attribute: str = Field(description="Leaf path such as `tags.Owner`; `(resource)` for all.")
    action: str = Field(description="What happened (drift) or would happen (pending).")
    expected: str = Field(description="What code, settings or state say it should be.")
    actual: str = Field(description="What it is.")
    stack: str | None = None

    @property
    def identity(self) -> str:
        """Stable while the same thing stays wrong, even if its value changes (first-seen).

        An element added to or removed from a list is itself the thing (two rogue rules are two
        findings), so its value is part of the identity.
        """
        element = self.expected + self.actual if self.attribute.endswith(("[+]", "[-]")) else ""
        return _digest(self.kind, self.resource, self.attribute, element)[:12]

    @property
    def fingerprint(self) -> str:
        """Changes when anything about the finding changes (notify-on-change)."""
        return _digest(self.kind, self.resource, self.attribute, self.expected, self.actual)


class DriftReport(BaseModel):
    environment: str
    status: Status
    findings: list[Finding] = Field(default_factory=list)
    ignored: int = 0
    errors: list[str] = Field(default_factory=list)
    first_seen: dict[str, datetime] = Field(
        default_factory=dict, description="Finding identity -> when it was first seen."
    )
    event: str | None = None  # the event this run emitted, if any
    remediation: str | None = Field(default=None, description="What remediation did, if it ran.")
    note: str | None = Field(default=None, description="Why the check was skipped.")
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for f in self.findings if f.kind == kind) for kind in KINDS}

    def describe(self) -> str:
        if self.status == "check-failed":
            return f"drift check of {self.environment} failed: " + "; ".join(self.errors)
        if self.status == "skipped":
            return self.note or f"drift check of {self.environment} skipped"
        if not self.findings:
            return f"{self.environment} matches its code, settings and work pool"
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts.items() if n)
        return f"{self.environment} drifted: {counts}"


class DriftDetected(RuntimeError):
    """Raised by a direct call of the flow when findings remain; carries the report."""

    def __init__(self, message: str, report: DriftReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:  # results are pickled; keep both arguments
        return (type(self), (str(self), self.report))


class DriftCheckFailed(DriftDetected):
    """A check could not run: the environment's state is unknown (not the same as drifted)."""


def _digest(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


# --- showing values --------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    # Providers record "not set" as null, "", [] or {} depending on when the value was read.
    return value is None or value == "" or value == [] or value == {}


def _json_text(value: Any) -> Any:
    """A string holding a JSON object or array, parsed (policies, container definitions)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return None


def _canonical(value: Any) -> Any:
    """Comparable form: JSON strings parsed, empty values dropped from objects."""
    parsed = _json_text(value)
    if parsed is not None:
        value = parsed
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items()) if not _empty(v)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _key(value: Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"))


def show(value: Any, limit: int = 300) -> str:
    if _empty(value):
        return NONE
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marked(marker: Any) -> bool:
    return marker is True


def _sub(marker: Any, key: str | int) -> Any:
    """The sensitivity (or unknown) marker of a child: Terraform mirrors the value's shape."""
    if marker is True:
        return True
    if isinstance(marker, dict) and isinstance(key, str):
        return marker.get(key, False)
    if isinstance(marker, list) and isinstance(key, int) and key < len(marker):
        return marker[key]
    return False


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    step = key if _PLAIN_KEY.match(key) else json.dumps(key)
    if not _PLAIN_KEY.match(key):
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else step


def diff_values(
    before: Any,
    after: Any,
    path: str = "",
    before_sensitive: Any = False,
    after_sensitive: Any = False,
    after_unknown: Any = False,
) -> Iterator[tuple[str, str, str]]:
    """Leaf differences as (path, before shown, after shown); sensitive values masked.

    Lists of different lengths (or with more than one element changed) come out as removed
    `path[-]` and added `path[+]` elements, so a rule added to a set reads as one line.
    """
    if _marked(before_sensitive) or _marked(after_sensitive):
        if _key(before) != _key(after):
            yield path, SENSITIVE, SENSITIVE
        return
    if _marked(after_unknown):
        yield path, show(before), UNKNOWN
        return
    if _empty(before) and _empty(after):
        return
    parsed_before, parsed_after = _json_text(before), _json_text(after)
    if parsed_before is not None and parsed_after is not None:
        # Sensitivity of a JSON string is one marker for the whole string, already checked.
        yield from diff_values(parsed_before, parsed_after, path)
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            yield from diff_values(
                before.get(key),
                after.get(key),
                _child(path, key),
                _sub(before_sensitive, key),
                _sub(after_sensitive, key),
                _sub(after_unknown, key),
            )
        return
    if isinstance(before, list) and isinstance(after, list):
        yield from _diff_lists(
            before, after, path, before_sensitive, after_sensitive, after_unknown
        )
        return
    if _key(before) != _key(after):
        yield path, show(before), show(after)


def _diff_lists(
    before: list[Any],
    after: list[Any],
    path: str,
    before_sensitive: Any,
    after_sensitive: Any,
    after_unknown: Any,
) -> Iterator[tuple[str, str, str]]:
    remaining = [_key(v) for v in after]
    removed: list[int] = []
    for index, value in enumerate(before):
        key = _key(value)
        if key in remaining:
            remaining[remaining.index(key)] = "\0matched"
        else:
            removed.append(index)
    added = [i for i, key in enumerate(remaining) if key != "\0matched"]
    if not removed and not added:
        return  # same elements, other order: a set read back in another order
    if len(before) == len(after) and removed == added and len(removed) == 1:
        # One element changed in place: show the leaf that changed inside it.
        i = removed[0]
        yield from diff_values(
            before[i],
            after[i],
            _child(path, i),
            _sub(before_sensitive, i),
            _sub(after_sensitive, i),
            _sub(after_unknown, i),
        )
        return
    for i in removed:
        shown = SENSITIVE if _sub(before_sensitive, i) is True else show(before[i])
        yield f"{path}[-]", shown, NONE
    for i in added:
        if _sub(after_unknown, i) is True:
            yield f"{path}[+]", NONE, UNKNOWN
        else:
            shown = SENSITIVE if _sub(after_sensitive, i) is True else show(after[i])
            yield f"{path}[+]", NONE, shown


# --- what the code declares where Terraform's state cannot say ------------------------------


def _route(route: dict[str, Any]) -> dict[str, Any]:
    """An `aws_route` as the element of its route table's `route` attribute."""
    element = {k: v for k, v in route.items() if k.endswith(("_id", "_arn"))}
    element.pop("route_table_id", None)
    element.pop("id", None)
    element["cidr_block"] = route.get("destination_cidr_block")
    element["ipv6_cidr_block"] = route.get("destination_ipv6_cidr_block")
    return element


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


COMPANIONS: dict[tuple[str, str], _Companion] = {
    ("aws_iam_role", "inline_policy"): _Companion(
        "aws_iam_role_policy", "role", lambda c: {k: c[k] for k in ("name", "policy")}
    ),
    ("aws_iam_role", "managed_policy_arns"): _Companion(
        "aws_iam_role_policy_attachment", "role", lambda c: c["policy_arn"]
    ),
    ("aws_route_table", "route"): _Companion("aws_route", "route_table_id", _route),
    ("aws_sqs_queue", "policy"): _Companion(
        "aws_sqs_queue_policy", "queue_url", lambda c: c["policy"], collection=False
    ),
    ("aws_sqs_queue", "redrive_policy"): _Companion(
        "aws_sqs_queue_redrive_policy", "queue_url", lambda c: c["redrive_policy"], False
    ),
}
# Attributes the code declares empty but leaves unmanaged (no block at all): the worker security
# group has no ingress by design (README). Terraform ignores an unconfigured `ingress`, so a rule
# added by hand is only drift until the next apply writes it into the state; declared here, it
# stays reported after that. (`ingress = []` in the network module would make Terraform itself
# remove such a rule.)
DECLARED: dict[tuple[str, str], Any] = {
    ("module.network.aws_security_group.worker", "ingress"): [],
}
# Attributes AWS fills in when another resource attaches to this one (an EIP used by a NAT
# gateway gets an association, an interface and a private IP): theirs while that resource exists.
ATTACHED: dict[str, tuple[frozenset[str], tuple[tuple[str, str], ...]]] = {
    "aws_eip": (
        frozenset({"association_id", "network_interface", "private_ip", "private_dns", "instance"}),
        (("aws_nat_gateway", "allocation_id"), ("aws_eip_association", "allocation_id")),
    ),
}


def state_resources(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of a plan's prior state (for a refresh-only plan: the refreshed state)."""

    def walk(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    root = ((shown.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    return [r for r in walk(root) if r.get("mode", "managed") == "managed"]


def _names(values: dict[str, Any]) -> set[str]:
    return {str(values[k]) for k in ("id", "name", "arn") if values.get(k)}


def _references(
    resources: list[dict[str, Any]], kind: str, link: str, names: set[str]
) -> list[Any]:
    return [
        r["values"]
        for r in resources
        if r.get("type") == kind and str((r.get("values") or {}).get(link)) in names
    ]


def declared_values(
    resource: dict[str, Any], resources: list[dict[str, Any]]
) -> tuple[dict[str, Any], set[str]]:
    """(attribute -> what the code declares it to be, attributes owned by attached resources)."""
    kind, values = resource.get("type", ""), resource.get("values") or {}
    names = _names(values)
    declared: dict[str, Any] = {}
    for (owner, attribute), companion in COMPANIONS.items():
        if owner == kind:
            found = _references(resources, companion.companion_type, companion.link, names)
            elements = [companion.element(v) for v in found]
            declared[attribute] = elements if companion.collection else next(iter(elements), None)
    for (address, attribute), value in DECLARED.items():
        if address == resource.get("address"):
            declared[attribute] = value
    attached: set[str] = set()
    if kind in ATTACHED:
        attributes, by = ATTACHED[kind]
        if any(_references(resources, other, link, names) for other, link in by):
            attached = set(attributes)
    return declared, attached


def _top(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _without_tag_mirrors(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """`tags_all.X` repeats `tags.X` (tags_all = default tags + tags): say it once."""
    seen = {(p.removeprefix("tags"), b, a) for p, b, a in rows if p.startswith("tags")}
    return [
        (p, b, a)
        for p, b, a in rows
        if not (p.startswith("tags_all") and (p.removeprefix("tags_all"), b, a) in seen)
    ]


def drift_findings(shown: dict[str, Any], stack: str) -> list[Finding]:
    """Attribute-level drift from a refresh-only plan.

    `resource_drift[]` gives what changed since the state was written; attributes Terraform does
    not manage on their owner (see COMPANIONS, DECLARED) are compared with what the code
    declares instead, on every resource of the refreshed state.
    """
    resources = state_resources(shown)
    findings: list[Finding] = []

    def add(address: str, rows: list[tuple[str, str, str]], action: str) -> None:
        findings.extend(
            Finding(
                kind="drift",
                resource=address,
                attribute=path,
                action=action,
                expected=was,
                actual=now,
                stack=stack,
            )
            for path, was, now in _without_tag_mirrors(rows)
        )

    skipped: dict[str, set[str]] = {}
    for resource in resources:
        declared, attached = declared_values(resource, resources)
        skipped[resource["address"]] = attached | set(declared)
        values = resource.get("values") or {}
        sensitive = resource.get("sensitive_values") or {}
        for attribute, value in declared.items():
            rows = diff_values(
                value,
                values.get(attribute),
                attribute,
                after_sensitive=_sub(sensitive, attribute),
            )
            add(resource["address"], list(rows), "not declared")
    for drifted in shown.get("resource_drift") or []:
        address, change = drifted["address"], drifted["change"]
        if "delete" in change.get("actions", []) or change.get("after") is None:
            findings.append(
                Finding(
                    kind="drift",
                    resource=address,
                    attribute=WHOLE,
                    action="deleted",
                    expected="exists",
                    actual="deleted outside Terraform",
                    stack=stack,
                )
            )
            continue
        rows = diff_values(
            change.get("before"),
            change.get("after"),
            before_sensitive=change.get("before_sensitive", False),
            after_sensitive=change.get("after_sensitive", False),
        )
        add(address, [r for r in rows if _top(r[0]) not in skipped.get(address, set())], "changed")
    return findings


_REPLACE = (["delete", "create"], ["create", "delete"])


def pending_findings(shown: dict[str, Any], stack: str) -> list[Finding]:
    """What a normal plan would change: code or settings not applied (or drift it would undo)."""
    findings: list[Finding] = []
    for change_of in shown.get("resource_changes") or []:
        address, change = change_of["address"], change_of["change"]
        actions = change.get("actions", [])
        if actions in (["no-op"], ["read"]) or not actions:
            continue
        action = "replace" if actions in _REPLACE else actions[0]
        if action in ("create", "delete"):
            present = action == "delete"
            findings.append(
                Finding(
                    kind="pending",
                    resource=address,
                    attribute=WHOLE,
                    action=action,
                    expected="absent" if present else "present",
                    actual="present" if present else "absent",
                    stack=stack,
                )
            )
            continue
        rows = [
            row
            for row in diff_values(
                change.get("before"),
                change.get("after"),
                before_sensitive=change.get("before_sensitive", False),
                after_sensitive=change.get("after_sensitive", False),
                after_unknown=change.get("after_unknown", False),
            )
            # Values computed on apply (ids, revisions) are consequences, not the change.
            if row[2] != UNKNOWN
        ]
        rows = _without_tag_mirrors(rows) or [(WHOLE, "(current)", f"({action})")]
        findings += [
            # For a pending change the code's value is the expected one.
            Finding(
                kind="pending",
                resource=address,
                attribute=path,
                action=action,
                expected=wanted,
                actual=current,
                stack=stack,
            )
            for path, current, wanted in rows
        ]
    return findings


def without_drift_echoes(pending: list[Finding], drift: list[Finding]) -> list[Finding]:
    """A normal plan also proposes undoing drift; that is the drift finding, said once."""
    drifted = {(f.resource, f.attribute) for f in drift}
    gone = {f.resource for f in drift if f.attribute == WHOLE}
    return [
        f
        for f in pending
        if (f.resource, f.attribute) not in drifted
        and f.resource not in gone
        and not (
            f.attribute.startswith(("tags_all.", "tags_all["))
            and (f.resource, "tags" + f.attribute.removeprefix("tags_all")) in drifted
        )
    ]


# --- ignore list -----------------------------------------------------------------------------

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
    patterns = list(settings.drift_ignore)
    if worker_vars and worker_vars.get("enable_autoscaling"):
        # Application Auto Scaling owns the desired count once it is on.
        patterns.append("aws_ecs_service.*:desired_count")
    return patterns


# --- Terraform -------------------------------------------------------------------------------


class _DriftTerraform(Terraform):
    """A runner whose data dir and plan file are the drift check's own.

    Never bootstrap's: the drift check takes no lock, so sharing bootstrap's data dir would let
    a drift check re-init it, or overwrite its saved plan, in the middle of a bootstrap.
    """

    @property
    def plan_file(self) -> Path:
        return self.work_dir / "drift.tfplan"


def _drift_dir(settings: BootstrapSettings) -> Path:
    return settings.environment_dir / "drift"


def _open(
    settings: BootstrapSettings, stack: str, mode: str, bucket: str, variables: dict[str, Any]
) -> tuple[Terraform, Path]:
    terraform = _DriftTerraform(
        stack_dir=settings.terraform_dir / "stacks" / stack,
        work_dir=_drift_dir(settings) / f"{stack}-{mode}",
        env=aws.aws_environment(settings),
        provider_mirror=settings.terraform_provider_mirror,
        logger=get_run_logger(),
    )
    terraform.init(stacks.backend_config(settings, bucket, stack))
    var_file = terraform.work_dir / "terraform.tfvars.json"
    var_file.write_text(json.dumps(variables, indent=2, sort_keys=True))
    return terraform, var_file


def _plan_json(
    settings: BootstrapSettings,
    stack: str,
    mode: str,
    bucket: str,
    variables: dict[str, Any],
) -> dict[str, Any]:
    terraform, var_file = _open(settings, stack, mode, bucket, variables)
    plan = terraform.plan(var_file=var_file, refresh_only=mode == "refresh", lock=False)
    try:
        return terraform.show_json(plan.plan_file)
    finally:
        # The plan holds the refreshed state; it has served its purpose.
        plan.plan_file.unlink(missing_ok=True)


@task(name="terraform drift", cache_policy=NO_CACHE, task_run_name="drift {stack}")
def terraform_drift(
    settings: BootstrapSettings, stack: str, bucket: str, variables: dict[str, Any]
) -> list[Finding]:
    """`plan -refresh-only -lock=false`: what changed outside Terraform."""
    findings = drift_findings(_plan_json(settings, stack, "refresh", bucket, variables), stack)
    get_run_logger().info("%s stack: %d drifted attributes", stack.capitalize(), len(findings))
    return findings


@task(name="pending changes", cache_policy=NO_CACHE, task_run_name="pending {stack}")
def pending_changes(
    settings: BootstrapSettings, stack: str, bucket: str, variables: dict[str, Any]
) -> list[Finding]:
    """A normal plan with `-lock=false`: what the next bootstrap would change."""
    findings = pending_findings(_plan_json(settings, stack, "plan", bucket, variables), stack)
    get_run_logger().info("%s stack: %d pending changes", stack.capitalize(), len(findings))
    return findings


class RecordedOutputs(BaseModel):
    platform: PlatformOutputs | None
    worker: WorkerOutputs | None


@task(name="recorded outputs", cache_policy=NO_CACHE)
def recorded_outputs(settings: BootstrapSettings, bucket: str) -> RecordedOutputs:
    """The outputs each stack's state records, read straight from the state object.

    Same data as `terraform output`, without an init: nothing is locked or written.
    """
    s3 = aws.client(settings, "s3")
    outputs: dict[str, dict[str, Any]] = {}
    for stack in (platform_stack.STACK, worker_stack.STACK):
        try:
            body = s3.get_object(Bucket=bucket, Key=stacks.state_key(settings, stack))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            outputs[stack] = {}
            continue
        state = json.loads(body.read())
        outputs[stack] = {k: v.get("value") for k, v in (state.get("outputs") or {}).items()}
    platform, worker = outputs[platform_stack.STACK], outputs[worker_stack.STACK]
    return RecordedOutputs(
        platform=PlatformOutputs.model_validate(platform) if platform else None,
        worker=WorkerOutputs.model_validate(worker) if worker else None,
    )


# --- Prefect, the worker, the image ----------------------------------------------------------


def _pool_resource(settings: BootstrapSettings) -> str:
    return f"work_pool.{settings.work_pool_name}"


@task(name="work pool", cache_policy=NO_CACHE)
def check_work_pool(
    settings: BootstrapSettings, platform: PlatformOutputs, image_uri: str
) -> list[Finding]:
    """The pool exists, is an ECS pool, is not paused, and holds the defaults bootstrap owns."""
    resource = _pool_resource(settings)

    def finding(attribute: str, expected: str, actual: str, action: str = "changed") -> Finding:
        return Finding(
            kind="prefect",
            resource=resource,
            attribute=attribute,
            action=action,
            expected=expected,
            actual=actual,
        )

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(settings.work_pool_name)
        except ObjectNotFound:
            return [finding(WHOLE, "exists", "missing", "deleted")]
    if pool.type != work_pool.POOL_TYPE:
        return [finding("type", work_pool.POOL_TYPE, str(pool.type))]
    findings = []
    if pool.is_paused:
        findings.append(finding("is_paused", "false", "true", "paused"))
    owned = work_pool.owned_defaults(settings, platform, image_uri)
    properties = (pool.base_job_template or {}).get("variables", {}).get("properties", {})
    for name, value in owned.items():
        schema = properties.get(name)
        if not isinstance(schema, dict) or "default" not in schema:
            findings.append(finding(name, show(value), "(no default)", "removed"))
            continue
        findings += [
            finding(path, was, now)
            for path, was, now in diff_values(value, schema["default"], name)
        ]
    return findings


def _describe_service(settings: BootstrapSettings, cluster: str, service: str) -> dict[str, Any]:
    ecs = aws.client(settings, "ecs")
    described = ecs.describe_services(cluster=cluster, services=[service])
    services = [s for s in described.get("services", []) if s.get("status") != "INACTIVE"]
    return dict(services[0]) if services else {}


@task(name="worker", cache_policy=NO_CACHE)
def check_worker(
    settings: BootstrapSettings,
    platform: PlatformOutputs,
    worker: WorkerOutputs,
    autoscaling: bool,
) -> list[Finding]:
    """A worker of the pool heartbeats; the ECS service runs the tasks it should."""
    findings: list[Finding] = []
    service_resource = f"ecs_service.{worker.service_name}"

    def found(resource: str, attribute: str, expected: str, actual: str, action: str) -> None:
        findings.append(
            Finding(
                kind="worker",
                resource=resource,
                attribute=attribute,
                action=action,
                expected=expected,
                actual=actual,
            )
        )

    service = _describe_service(settings, platform.cluster_arn, worker.service_name)
    deadline = time.monotonic() + SERVICE_SETTLE_SECONDS
    while service and service["runningCount"] != service["desiredCount"]:
        if time.monotonic() >= deadline:
            break
        time.sleep(3)
        service = _describe_service(settings, platform.cluster_arn, worker.service_name)
    if not service:
        found(service_resource, WHOLE, "ACTIVE", "missing", "deleted")
    else:
        if not autoscaling and service["desiredCount"] != settings.worker_count:
            found(
                service_resource,
                "desiredCount",
                str(settings.worker_count),
                str(service["desiredCount"]),
                "changed",
            )
        if service["runningCount"] != service["desiredCount"]:
            found(
                service_resource,
                "runningCount",
                str(service["desiredCount"]),
                str(service["runningCount"]),
                "not running",
            )

    with get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(settings.work_pool_name)
    max_age = settings.drift_heartbeat_max_age
    now = datetime.now(UTC)
    fresh = [
        w
        for w in workers
        if w.last_heartbeat_time is not None
        and (now - w.last_heartbeat_time).total_seconds()
        <= (
            max_age
            or DEFAULT_MISSED_HEARTBEATS
            * (w.heartbeat_interval_seconds or DEFAULT_HEARTBEAT_INTERVAL)
        )
    ]
    if not fresh:
        beats = [w.last_heartbeat_time for w in workers if w.last_heartbeat_time]
        # The last heartbeat's time (not its age) keeps the finding identical run after run.
        last = f"last heartbeat {max(beats).isoformat(timespec='seconds')}" if beats else "none"
        limit = f"{max_age} s" if max_age else f"{DEFAULT_MISSED_HEARTBEATS} heartbeat intervals"
        found(
            f"workers.{settings.work_pool_name}",
            "last_heartbeat",
            f"within {limit}",
            last,
            "offline",
        )
    return findings


def _split_image(uri: str) -> tuple[str, dict[str, str]]:
    """(repository name, ECR image id) of `host/repo@sha256:...` or `host/repo:tag`."""
    path = uri.split("/", 1)[1] if "/" in uri else uri
    if "@" in path:
        repository, digest = path.split("@", 1)
        return repository, {"imageDigest": digest}
    repository, colon, tag = path.rpartition(":")
    return (repository, {"imageTag": tag}) if colon else (path, {"imageTag": "latest"})


@task(name="image", cache_policy=NO_CACHE)
def check_image(
    settings: BootstrapSettings, platform: PlatformOutputs, worker: WorkerOutputs
) -> list[Finding]:
    """The image the worker stack and the pool point to is still in ECR, by digest."""
    uris = [worker.image_uri]
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        pool = client.read_work_pool(settings.work_pool_name)
        properties = (pool.base_job_template or {}).get("variables", {}).get("properties", {})
        pool_image = (properties.get("image") or {}).get("default")
        if isinstance(pool_image, str) and pool_image not in uris:
            uris.append(pool_image)
    ecr = aws.client(settings, "ecr")
    findings = []
    for uri in uris:
        repository, image_id = _split_image(uri)
        if repository != platform.ecr_repository_name:
            continue  # not ours: the pool check reports an image default changed by hand
        wanted = image_id.get("imageDigest") or image_id.get("imageTag", "")
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[image_id])
            continue
        except ecr.exceptions.RepositoryNotFoundException:
            actual, action = "repository deleted", "deleted"
        except ecr.exceptions.ImageNotFoundException:
            actual, action = "image deleted", "deleted"
        findings.append(
            Finding(
                kind="image",
                resource=f"ecr_image.{repository}",
                attribute="imageDigest" if "imageDigest" in image_id else "imageTag",
                action=action,
                expected=wanted,
                actual=actual,
            )
        )
    return findings


# --- bookkeeping and events ------------------------------------------------------------------


def _variable_name(environment: str) -> str:
    return f"drift-{environment}"


def _load_bookkeeping(environment: str) -> dict[str, Any] | None:
    with get_client(sync_client=True) as client:
        variable = client.read_variable_by_name(_variable_name(environment))
    return variable.value if variable is not None and isinstance(variable.value, dict) else None


def _save_bookkeeping(environment: str, value: dict[str, Any]) -> None:
    name = _variable_name(environment)
    with get_client(sync_client=True) as client:
        if client.read_variable_by_name(name) is None:
            client.create_variable(VariableCreate(name=name, value=value, tags=["drift-check"]))
        else:
            client.update_variable(VariableUpdate(name=name, value=value))


def _compact(value: dict[str, Any]) -> dict[str, Any]:
    """Fit the Variable's size limit: drop the newest first-seen times (the digest stays)."""
    seen: dict[str, int] = value["seen"]
    while len(json.dumps(value)) > MAX_VARIABLE_CHARS and seen:
        del seen[max(seen, key=lambda k: seen[k])]
    return value


def _set_digest(findings: list[Finding]) -> str:
    return _digest(*sorted(f.fingerprint for f in findings)) if findings else ""


def _environment_resource(environment: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"bootstrap-flows.environment.{environment}",
        "prefect.resource.name": environment,
    }


def _emit(name: str, report: DriftReport) -> None:
    payload = {
        "environment": report.environment,
        "status": report.status,
        "counts": report.counts,
        "errors": report.errors,
        "findings": [
            {
                **f.model_dump(exclude_none=True),
                "first_seen": report.first_seen[f.identity].isoformat()
                if f.identity in report.first_seen
                else None,
            }
            for f in report.findings[:MAX_EVENT_FINDINGS]
        ],
        "truncated": max(0, len(report.findings) - MAX_EVENT_FINDINGS),
    }
    emit_event(
        event=name,
        resource=_environment_resource(report.environment),
        payload=payload,
    )


@task(name="record", cache_policy=NO_CACHE)
def record(report: DriftReport) -> DriftReport:
    """First-seen times, and an event only when the status or the set of findings changed."""
    logger = get_run_logger()
    previous = _load_bookkeeping(report.environment) or {}
    now = int(time.time())
    stored: dict[str, int] = dict(previous.get("seen") or {})
    value: dict[str, Any] = {
        "version": 1,
        "status": report.status,
        "digest": previous.get("digest", ""),
        "checked": datetime.now(UTC).isoformat(timespec="seconds"),
        "seen": stored,
    }
    event: str | None = None
    if report.status == "check-failed":
        # What we knew stays as it was: a failed check says nothing about drift.
        if previous.get("status") != "check-failed":
            event = EVENT_CHECK_FAILED
    elif report.status in ("clean", "drifted"):
        digest = _set_digest(report.findings)
        seen = {f.identity: stored.get(f.identity, now) for f in report.findings}
        value |= {"digest": digest, "seen": seen}
        report = report.model_copy(
            update={"first_seen": {k: datetime.fromtimestamp(t, UTC) for k, t in seen.items()}}
        )
        if digest and digest != previous.get("digest", ""):
            event = EVENT_DETECTED
        elif not digest and previous.get("digest"):
            event = EVENT_RESOLVED
    _save_bookkeeping(report.environment, _compact(value))
    report = report.model_copy(update={"event": event})
    if event:
        _emit(event, report)
        logger.info("Emitted %s for %s", event, report.environment)
    else:
        logger.info("Findings unchanged since the last check: no event")
    return report


# --- artifacts -------------------------------------------------------------------------------


def _publish(report: DriftReport) -> None:
    env = report.environment
    rows = [
        {
            "kind": f.kind,
            "resource": f.resource,
            "attribute": f.attribute,
            "action": f.action,
            "expected": f.expected,
            "actual": f.actual,
            "first seen": report.first_seen[f.identity].isoformat(timespec="seconds")
            if f.identity in report.first_seen
            else "",
        }
        for f in report.findings
    ]
    create_table_artifact(
        key=f"{env}-drift",
        table=rows or [{"kind": "(none)", "resource": "no drift", "attribute": "", "action": ""}],
        description=report.describe(),
    )
    counts = "\n".join(f"| {kind} | {n} |" for kind, n in report.counts.items())
    errors = "".join(f"- {e}\n" for e in report.errors)
    lines = [
        f"# Drift check of `{env}`: {report.status}\n",
        f"{report.describe()}\n",
        f"| kind | findings |\n|---|---|\n{counts}\n",
        f"Ignored by the ignore list: {report.ignored}. Check time: {report.seconds:.1f} s.\n",
    ]
    if report.event:
        lines.append(f"Emitted `{report.event}` (the findings changed since the last check).\n")
    if report.remediation:
        lines.append(f"**Remediation:** {report.remediation}\n")
    if errors:
        lines.append(f"## Checks that failed\n{errors}")
    if report.findings:
        lines.append(f"Details: the `{env}-drift` table artifact.\n")
    create_markdown_artifact(
        markdown="\n".join(lines),
        key=f"{env}-drift-summary",
        description=report.describe(),
    )


# --- the flow --------------------------------------------------------------------------------


@contextlib.contextmanager
def _check_lock(settings: BootstrapSettings) -> Iterator[None]:
    """One drift check per environment on this machine: they share data dirs and bookkeeping."""
    with file_lock(_drift_dir(settings) / ".lock"):
        yield


def _bootstrap_running(settings: BootstrapSettings) -> bool:
    """Is a bootstrap or teardown of this environment holding its lock right now?"""
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(
                f"bootstrap-{settings.environment}"
            )
        except ObjectNotFound:
            return False
    return bool(limit.active_slots)


@dataclass
class _Pass:
    findings: list[Finding] = field(default_factory=list)
    ignored: int = 0
    errors: list[str] = field(default_factory=list)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _never_applied(stack: str) -> Finding:
    return Finding(
        kind="pending",
        resource=f"stack.{stack}",
        attribute=WHOLE,
        action="create",
        expected="applied",
        actual="no outputs in its state: run bootstrap",
        stack=stack,
    )


def _run_checks(settings: BootstrapSettings, bucket: str) -> _Pass:
    result = _Pass()
    try:
        recorded = recorded_outputs(settings, bucket)
    except Exception as exc:  # credentials, network: the whole check cannot run
        result.errors.append(f"reading stack state: {_one_line(exc)}")
        return result
    if recorded.platform is None:
        result.findings.append(_never_applied(platform_stack.STACK))
        return result
    futures: dict[str, PrefectFuture[list[Finding]]] = {}

    def check_stack(stack: str, variables: dict[str, Any]) -> None:
        futures[f"drift {stack}"] = terraform_drift.submit(settings, stack, bucket, variables)
        futures[f"pending {stack}"] = pending_changes.submit(settings, stack, bucket, variables)

    check_stack(platform_stack.STACK, platform_stack.platform_variables(settings))
    worker_vars: dict[str, Any] | None = None
    if recorded.worker is None:
        result.findings.append(_never_applied(worker_stack.STACK))
    else:
        image_uri = recorded.worker.image_uri
        worker_vars = worker_stack.worker_variables(settings, recorded.platform, image_uri)
        check_stack(worker_stack.STACK, worker_vars)
        futures["work pool"] = check_work_pool.submit(settings, recorded.platform, image_uri)
        futures["worker"] = check_worker.submit(
            settings, recorded.platform, recorded.worker, bool(worker_vars["enable_autoscaling"])
        )
        futures["image"] = check_image.submit(settings, recorded.platform, recorded.worker)
    found: dict[str, list[Finding]] = {}
    for name, future in futures.items():
        try:
            found[name] = future.result()
        except Exception as exc:
            result.errors.append(f"{name}: {_one_line(exc)}")
    drift = [f for name, fs in found.items() if name.startswith("drift ") for f in fs]
    pending = [f for name, fs in found.items() if name.startswith("pending ") for f in fs]
    others = [
        f for name, fs in found.items() if not name.startswith(("drift ", "pending ")) for f in fs
    ]
    candidates = [*result.findings, *drift, *without_drift_echoes(pending, drift), *others]
    patterns = ignore_patterns(settings, worker_vars)
    kept = [f for f in candidates if ignored_by(f, patterns) is None]
    result.ignored = len(candidates) - len(kept)
    result.findings = sorted(
        kept, key=lambda f: (KINDS.index(f.kind), f.resource, f.attribute, f.actual)
    )
    return result


def _evaluate(
    settings: BootstrapSettings, bucket: str, remediation: str | None = None
) -> DriftReport:
    started = time.monotonic()
    logger = get_run_logger()
    checked = _run_checks(settings, bucket)
    status: Status = (
        "check-failed" if checked.errors else "drifted" if checked.findings else "clean"
    )
    for finding in checked.findings:
        logger.warning(
            "%s: %s %s: expected %s, actual %s",
            finding.kind,
            finding.resource,
            finding.attribute,
            finding.expected,
            finding.actual,
        )
    return DriftReport(
        environment=settings.environment,
        status=status,
        findings=checked.findings,
        ignored=checked.ignored,
        errors=checked.errors,
        remediation=remediation,
        seconds=round(time.monotonic() - started, 1),
    )


def _skipped(environment: str) -> DriftReport:
    return DriftReport(
        environment=environment,
        status="skipped",
        note=f"a bootstrap or teardown of {environment} ran during the check; "
        "its results were not trusted (resources and state disagree mid-apply)",
    )


def _check(settings: BootstrapSettings, bucket: str, remediation: str | None = None) -> DriftReport:
    """One pass of every check, bookkept and published (unless a bootstrap overlapped it)."""
    if _bootstrap_running(settings):
        return _skipped(settings.environment)
    with _check_lock(settings):
        report = _evaluate(settings, bucket, remediation)
    if _bootstrap_running(settings):
        return _skipped(settings.environment)
    report = record(report)
    _publish(report)
    get_run_logger().info(report.describe())
    return report


@task(name="resume work pool", cache_policy=NO_CACHE)
def resume_work_pool(settings: BootstrapSettings) -> bool:
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(settings.work_pool_name)
        except ObjectNotFound:
            return False
        if not pool.is_paused:
            return False
        client.update_work_pool(settings.work_pool_name, WorkPoolUpdate(is_paused=False))
    get_run_logger().info("Resumed work pool %s", settings.work_pool_name)
    return True


def _remediate(settings: BootstrapSettings, environment: str, overrides: dict[str, Any]) -> str:
    """Re-apply through bootstrap (which takes the environment lock itself; we hold none)."""
    logger = get_run_logger()
    # Bootstrap's e2e stage runs a flow on the pool; on a paused pool it would wait forever.
    resumed = resume_work_pool(settings)
    logger.info("Remediating %s: running bootstrap", environment)
    try:
        result = bootstrap(environment=environment, overrides=overrides)
    except Exception as exc:
        return f"bootstrap failed: {_one_line(exc)}"
    applied = [stack for stack, changed in result.applied.items() if changed]
    done = f"bootstrap re-applied {', '.join(applied) or 'nothing'}"
    done += f"; work pool {result.work_pool_change}" + ("; pool resumed" if resumed else "")
    return done


def _final(report: DriftReport) -> State[Any]:
    message = report.describe()
    if report.status == "check-failed":
        return Failed(name="CheckFailed", message=message, data=DriftCheckFailed(message, report))
    if report.status == "drifted":
        return Failed(name="Drifted", message=message, data=DriftDetected(message, report))
    if report.status == "skipped":
        return Completed(name="Skipped", message=message, data=report)
    return Completed(message=message, data=report)


@flow(name="drift-check", log_prints=True)
def drift_check(
    environment: str = "local",
    overrides: dict[str, Any] | None = None,
    remediate: bool = False,
) -> State[Any]:
    """Compare the environment with its code, settings and work pool; report what differs.

    Ends Completed (clean), Failed "Drifted" (findings) or Failed "CheckFailed" (a check could
    not run). With `remediate`, drift is handed to `bootstrap` and the environment re-checked.
    """
    started = time.monotonic()
    overrides = overrides or {}
    try:
        settings, report = preflight(environment, overrides, needs_docker=False)
    except Exception as exc:
        failed = DriftReport(
            environment=environment,
            status="check-failed",
            errors=[f"preflight: {_one_line(exc)}"],
        )
        with contextlib.suppress(Exception):  # the Prefect API may be what is down
            failed = record(failed)
        return _final(failed)
    bucket = settings.state_bucket_name(report.account_id)
    result = _check(settings, bucket)
    if remediate and result.status == "drifted":
        result = _check(settings, bucket, _remediate(settings, environment, overrides))
    result = result.model_copy(update={"seconds": round(time.monotonic() - started, 1)})
    return _final(result)
