"""Terraform's view: drift and pending changes, both from one normal plan per stack.

`drift_findings` and `pending_findings` turn `terraform show -json` output into findings (pure);
the task runs the plan read-only (`-lock=false`, in the drift check's own data dir) and the
outputs each stack's state records are read straight from the state.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.drift.diff import UNKNOWN, child_marker, diff_values
from bootstrap_flows.drift.findings import WHOLE, Finding
from bootstrap_flows.drift.rules import declared_values, mirrored, names_of, without_tag_mirrors
from bootstrap_flows.terraform import platform_stack, server_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.server_stack import ServerOutputs
from bootstrap_flows.terraform.worker_stack import WorkerOutputs

Row = tuple[str, str, str]  # (attribute path, one side shown, the other side shown)


def state_resources(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of a plan's prior state: the state as the plan's refresh found it."""

    def walk(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    root = ((shown.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    return [r for r in walk(root) if r.get("mode", "managed") == "managed"]


def _top(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _deleted(change: dict[str, Any]) -> bool:
    return "delete" in change.get("actions", []) or change.get("after") is None


def deleted_outside(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """Resources deleted outside Terraform, as they were (a plan's `resource_drift` deletions)."""
    return [
        {"address": d["address"], "type": d.get("type", ""), "values": d["change"].get("before")}
        for d in shown.get("resource_drift") or []
        if _deleted(d["change"])
    ]


def _drifted(address: str, rows: list[Row], action: str, stack: str) -> list[Finding]:
    return [
        Finding(
            kind="drift",
            resource=address,
            attribute=path,
            action=action,
            expected=was,
            actual=now,
            stack=stack,
        )
        for path, was, now in without_tag_mirrors(rows)
    ]


def _undeclared(
    resources: list[dict[str, Any]], stack: str, gone: list[dict[str, Any]]
) -> tuple[list[Finding], dict[str, set[str]]]:
    """(declared attributes that differ, address -> attributes the rules own).

    Terraform's own diff of the attributes the rules own is noise: the rules' verdict replaces it.
    """
    findings: list[Finding] = []
    owned: dict[str, set[str]] = {}
    for resource in resources:
        declared, attached = declared_values(resource, resources, gone)
        owned[resource["address"]] = attached | set(declared)
        values = resource.get("values") or {}
        sensitive = resource.get("sensitive_values") or {}
        for attribute, value in declared.items():
            rows = diff_values(
                value,
                values.get(attribute),
                attribute,
                after_sensitive=child_marker(sensitive, attribute),
            )
            findings += _drifted(resource["address"], list(rows), "not declared", stack)
    return findings, owned


def drift_findings(shown: dict[str, Any], stack: str) -> list[Finding]:
    """Attribute-level drift from a plan (its refresh: what changed since the last apply).

    `resource_drift[]` gives what changed since the state was written; attributes Terraform does
    not manage on their owner (see rules.COMPANIONS) are compared with what the code declares
    instead, on every resource of the refreshed state.
    """
    findings, owned = _undeclared(state_resources(shown), stack, deleted_outside(shown))
    for drifted in shown.get("resource_drift") or []:
        address, change = drifted["address"], drifted["change"]
        if _deleted(change):
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
        skip = owned.get(address, set()) | mirrored(drifted.get("type", ""))
        findings += _drifted(address, [r for r in rows if _top(r[0]) not in skip], "changed", stack)
    return findings


_REPLACE = (["delete", "create"], ["create", "delete"])


def _pending_rows(
    change: dict[str, Any], action: str, kind: str, gone_names: set[str]
) -> list[Row]:
    """What a pending update or replacement is reported as; nothing when it only echoes drift.

    Values computed on apply (ids, revisions) are consequences, not the change: a change of
    nothing else is reported whole, unless it is an update recomputing a value that names a
    resource deleted outside Terraform (a route to a NAT gateway deleted by hand): that deletion
    is the finding. Attributes that restate another's (rules.MIRRORS) are that one's finding.
    """
    every = list(
        diff_values(
            change.get("before"),
            change.get("after"),
            before_sensitive=change.get("before_sensitive", False),
            after_sensitive=change.get("after_sensitive", False),
            after_unknown=change.get("after_unknown", False),
        )
    )
    rows = [row for row in every if _top(row[0]) not in mirrored(kind)]
    if every and not rows:
        return []
    known = [row for row in rows if row[2] != UNKNOWN]
    if known:
        return without_tag_mirrors(known)
    before = change.get("before") or {}
    if action == "update" and any(str(before.get(_top(row[0]))) in gone_names for row in rows):
        return []
    return [(WHOLE, "(current)", f"({action})")]


def pending_findings(shown: dict[str, Any], stack: str) -> list[Finding]:
    """What a normal plan would change: code or settings not applied (or drift it would undo)."""
    findings: list[Finding] = []
    gone_names = {name for r in deleted_outside(shown) for name in names_of(r["values"] or {})}
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
            for path, current, wanted in _pending_rows(
                change, action, change_of.get("type", ""), gone_names
            )
        ]
    return findings


def _element(finding: Finding) -> tuple[str, str, str, str] | None:
    """An element added to or removed from a list, whichever way round the diff saw it.

    A rule added by hand is `ingress[+]` to the refresh (nothing -> rule) and `ingress[-]` to
    the plan that removes it (rule -> nothing); both say: expected nothing, actually the rule.
    """
    if not finding.attribute.endswith(("[+]", "[-]")):
        return None
    return (finding.resource, finding.attribute[:-3], finding.expected, finding.actual)


def without_drift_echoes(pending: list[Finding], drift: list[Finding]) -> list[Finding]:
    """A normal plan also proposes undoing drift; that is the drift finding, said once."""
    drifted = {(f.resource, f.attribute) for f in drift}
    elements = {_element(f) for f in drift} - {None}
    gone = {f.resource for f in drift if f.attribute == WHOLE}
    return [
        f
        for f in pending
        if (f.resource, f.attribute) not in drifted
        and _element(f) not in elements
        and f.resource not in gone
        and not (
            f.attribute.startswith(("tags_all.", "tags_all["))
            and (f.resource, "tags" + f.attribute.removeprefix("tags_all")) in drifted
        )
    ]


# --- running the plans -------------------------------------------------------------------------


def drift_dir(settings: BootstrapSettings) -> Path:
    """The drift check's own Terraform data dirs (never bootstrap's: it takes no lock)."""
    return settings.environment_dir / "drift"


def _plan_json(
    settings: BootstrapSettings, stack: str, bucket: str, variables: dict[str, Any]
) -> dict[str, Any]:
    terraform, var_file = stacks.open_stack(
        settings,
        stack,
        bucket,
        variables,
        get_run_logger(),
        work_dir=drift_dir(settings) / f"{stack}-plan",
    )
    plan = terraform.plan(var_file=var_file, lock=False)
    try:
        return terraform.show_json(plan.plan_file)
    finally:
        # The plan holds the refreshed state; it has served its purpose.
        plan.plan_file.unlink(missing_ok=True)


class StackFindings(BaseModel):
    drift: list[Finding]
    pending: list[Finding]


@task(name="terraform check", cache_policy=NO_CACHE, task_run_name="terraform {stack}")
def terraform_check(
    settings: BootstrapSettings, stack: str, bucket: str, variables: dict[str, Any]
) -> StackFindings:
    """A normal plan with `-lock=false`: what changed outside Terraform and what not applied.

    One plan says both. A normal plan refreshes first, exactly as `plan -refresh-only` does:
    its JSON carries the same `resource_drift[]` and refreshed `prior_state` (Terraform leaves
    out only moves, which it lists as planned changes instead), and `resource_changes[]` is
    what the next bootstrap would change. A second, refresh-only plan would cost another init,
    refresh and `show -json` for nothing it could add.
    """
    shown = _plan_json(settings, stack, bucket, variables)
    found = StackFindings(
        drift=drift_findings(shown, stack), pending=pending_findings(shown, stack)
    )
    logger = get_run_logger()
    logger.info("%s stack: %d drifted attributes", stack.capitalize(), len(found.drift))
    logger.info("%s stack: %d pending changes", stack.capitalize(), len(found.pending))
    return found


class RecordedOutputs(BaseModel):
    platform: PlatformOutputs | None
    worker: WorkerOutputs | None
    server: ServerOutputs | None = None


@task(name="recorded outputs", cache_policy=NO_CACHE)
def recorded_outputs(settings: BootstrapSettings, bucket: str) -> RecordedOutputs:
    """The outputs each stack's state records (None for a stack never applied)."""
    platform = stacks.read_outputs(settings, platform_stack.STACK, bucket)
    worker = stacks.read_outputs(settings, worker_stack.STACK, bucket)
    server = stacks.read_outputs(settings, server_stack.STACK, bucket)
    return RecordedOutputs(
        platform=PlatformOutputs.model_validate(platform) if platform else None,
        worker=WorkerOutputs.model_validate(worker) if worker else None,
        server=ServerOutputs.model_validate(server) if server else None,
    )
