"""Synthetic `terraform show -json` documents, shaped like the ones real plans produce."""

from __future__ import annotations

from typing import Any

from bootstrap_flows.drift.findings import Finding


def drift_entry(address: str, kind: str, before: Any, after: Any, **change: Any) -> dict[str, Any]:
    """One `resource_drift[]` entry: the resource changed outside Terraform."""
    return {
        "address": address,
        "type": kind,
        "change": {"actions": ["update"], "before": before, "after": after, **change},
    }


def in_state(address: str, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """One resource of the (refreshed) prior state."""
    return {"address": address, "type": kind, "values": values}


def plan(drift: list[dict[str, Any]], state: list[dict[str, Any]]) -> dict[str, Any]:
    """A refresh-only plan: its drift and its refreshed state (in a child module, as ours are)."""
    module = {"address": "module.m", "resources": state}
    return {
        "resource_drift": drift,
        "prior_state": {"values": {"root_module": {"child_modules": [module]}}},
    }


def rows(findings: list[Finding]) -> set[tuple[str, str, str, str]]:
    return {(f.resource, f.attribute, f.expected, f.actual) for f in findings}


def finding(
    resource: str, attribute: str, expected: str = "a", actual: str = "b", **more: Any
) -> Finding:
    return Finding(
        **{
            "kind": "drift",
            "resource": resource,
            "attribute": attribute,
            "action": "changed",
            "expected": expected,
            "actual": actual,
            **more,
        }
    )
