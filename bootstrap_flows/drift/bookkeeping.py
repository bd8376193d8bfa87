"""What the last check found (the Prefect Variable `drift-<env>`), and events only on change.

A drifted environment checked every 30 minutes notifies once: an event is emitted when the
status or the set of findings changed since the last check, never because it was checked again.
`bookkeep` decides (pure); `record` reads and writes the Variable and emits.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import VariableCreate, VariableUpdate
from prefect.events import emit_event

from bootstrap_flows.drift.findings import DriftReport, Finding, Status, digest
from bootstrap_flows.prefect_side.events import EVENT_CHECK_FAILED as EVENT_CHECK_FAILED
from bootstrap_flows.prefect_side.events import EVENT_DETECTED as EVENT_DETECTED
from bootstrap_flows.prefect_side.events import EVENT_RESOLVED as EVENT_RESOLVED
from bootstrap_flows.prefect_side.events import environment_resource as environment_resource

# Events and the bookkeeping Variable have size limits (Variables: 5000 characters).
MAX_EVENT_FINDINGS = 200
MAX_VARIABLE_CHARS = 4500

# The events' names and resource: prefect_side.events, where the alerts read them too.


def set_digest(findings: list[Finding]) -> str:
    """One value for the whole set of findings ("" for none), whatever their order."""
    return digest(*sorted(f.fingerprint for f in findings)) if findings else ""


def next_event(previous: dict[str, Any], status: Status, findings_digest: str) -> str | None:
    """The event a check with this outcome emits, given the last check's bookkeeping."""
    if status == "check-failed":
        return EVENT_CHECK_FAILED if previous.get("status") != "check-failed" else None
    if status not in ("clean", "drifted"):
        return None
    if findings_digest and findings_digest != previous.get("digest", ""):
        return EVENT_DETECTED
    if not findings_digest and previous.get("digest"):
        return EVENT_RESOLVED
    return None


def bookkeep(
    previous: dict[str, Any], report: DriftReport, now: datetime
) -> tuple[dict[str, Any], DriftReport]:
    """(the Variable's new value, the report with first-seen times and its event)."""
    stored: dict[str, int] = dict(previous.get("seen") or {})
    value: dict[str, Any] = {
        "version": 1,
        "status": report.status,
        # A failed (or skipped) check says nothing about drift: what we knew stays as it was, so
        # the next check that runs is compared with the last one that ran.
        "digest": previous.get("digest", ""),
        "checked": now.isoformat(timespec="seconds"),
        "seen": stored,
    }
    findings_digest = value["digest"]
    if report.status in ("clean", "drifted"):
        findings_digest = set_digest(report.findings)
        at = int(now.timestamp())
        seen = {f.identity: stored.get(f.identity, at) for f in report.findings}
        value |= {"digest": findings_digest, "seen": seen}
        report = report.model_copy(
            update={"first_seen": {k: datetime.fromtimestamp(t, UTC) for k, t in seen.items()}}
        )
    event = next_event(previous, report.status, findings_digest)
    return compact(value), report.model_copy(update={"event": event})


def compact(value: dict[str, Any]) -> dict[str, Any]:
    """Fit the Variable's size limit: drop the newest first-seen times (the digest stays)."""
    seen: dict[str, int] = value["seen"]
    while len(json.dumps(value)) > MAX_VARIABLE_CHARS and seen:
        del seen[max(seen, key=lambda k: seen[k])]
    return value


def event_payload(report: DriftReport) -> dict[str, Any]:
    """The report as an event carries it: findings capped, how many were cut off."""
    return {
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


# --- the Variable and the events ---------------------------------------------------------------


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


@task(name="record", cache_policy=NO_CACHE)
def record(report: DriftReport) -> DriftReport:
    """First-seen times, and an event only when the status or the set of findings changed."""
    logger = get_run_logger()
    previous = _load_bookkeeping(report.environment) or {}
    value, report = bookkeep(previous, report, datetime.now(UTC))
    _save_bookkeeping(report.environment, value)
    if report.event:
        emit_event(
            event=report.event,
            resource=environment_resource(report.environment),
            payload=event_payload(report),
        )
        logger.info("Emitted %s for %s", report.event, report.environment)
    else:
        logger.info("Findings unchanged since the last check: no event")
    return report
