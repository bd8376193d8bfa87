"""What changed since the last check, and so which event (if any) this check emits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bootstrap_flows.drift.bookkeeping import (
    EVENT_CHECK_FAILED,
    EVENT_DETECTED,
    EVENT_RESOLVED,
    MAX_EVENT_FINDINGS,
    MAX_VARIABLE_CHARS,
    bookkeep,
    compact,
    event_payload,
    next_event,
    set_digest,
)
from bootstrap_flows.drift.findings import DriftReport, Finding, Status
from tests.unit.drift.shown import finding

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
TAG = finding("aws_vpc.this", "tags.Owner", "(none)", "me")
RETENTION = finding("aws_cloudwatch_log_group.this", "retention_in_days", "14", "30")


def report(status: Status, *findings: Finding, errors: list[str] | None = None) -> DriftReport:
    return DriftReport(
        environment="local", status=status, findings=list(findings), errors=errors or []
    )


def run(checks: list[DriftReport]) -> list[str | None]:
    """The events a sequence of checks emits, bookkeeping carried from one to the next."""
    events: list[str | None] = []
    value: dict[str, Any] = {}
    for i, checked in enumerate(checks):
        value, result = bookkeep(value, checked, T0 + timedelta(minutes=30 * i))
        events.append(result.event)
    return events


def test_set_digest_ignores_order_and_sees_values() -> None:
    assert set_digest([]) == ""
    assert set_digest([TAG, RETENTION]) == set_digest([RETENTION, TAG])
    changed = finding("aws_vpc.this", "tags.Owner", "(none)", "someone else")
    assert set_digest([TAG]) != set_digest([changed])


@pytest.mark.parametrize(
    ("previous", "status", "digest", "event"),
    [
        ({}, "clean", "", None),
        ({}, "drifted", "d1", EVENT_DETECTED),
        ({"status": "drifted", "digest": "d1"}, "drifted", "d1", None),
        ({"status": "drifted", "digest": "d1"}, "drifted", "d2", EVENT_DETECTED),
        ({"status": "drifted", "digest": "d1"}, "clean", "", EVENT_RESOLVED),
        ({"status": "clean", "digest": ""}, "clean", "", None),
        ({"status": "clean", "digest": ""}, "check-failed", "", EVENT_CHECK_FAILED),
        ({"status": "drifted", "digest": "d1"}, "check-failed", "d1", EVENT_CHECK_FAILED),
        ({"status": "check-failed", "digest": "d1"}, "check-failed", "d1", None),
        # After a failed check, the same drift as before is not news.
        ({"status": "check-failed", "digest": "d1"}, "drifted", "d1", None),
        ({"status": "check-failed", "digest": "d1"}, "clean", "", EVENT_RESOLVED),
        ({"status": "drifted", "digest": "d1"}, "skipped", "d1", None),
    ],
)
def test_next_event(previous: dict[str, Any], status: Status, digest: str, event: str) -> None:
    assert next_event(previous, status, digest) == event


def test_events_only_on_change_across_checks() -> None:
    checks = [
        report("clean"),
        report("drifted", TAG),
        report("drifted", TAG),
        report("check-failed", errors=["worker: boom"]),
        report("check-failed", errors=["worker: boom"]),
        report("drifted", TAG),
        report("drifted", TAG, RETENTION),
        report("clean"),
        report("clean"),
    ]
    assert run(checks) == [
        None,
        EVENT_DETECTED,
        None,
        EVENT_CHECK_FAILED,
        None,
        None,
        EVENT_DETECTED,
        EVENT_RESOLVED,
        None,
    ]


def test_first_seen_is_kept_while_a_finding_stays() -> None:
    value, first = bookkeep({}, report("drifted", TAG), T0)
    assert first.first_seen == {TAG.identity: T0}
    later = T0 + timedelta(hours=1)
    # The same thing still wrong, with another value: still first seen at T0.
    moved = finding("aws_vpc.this", "tags.Owner", "(none)", "someone else")
    value, second = bookkeep(value, report("drifted", moved, RETENTION), later)
    assert second.first_seen == {TAG.identity: T0, RETENTION.identity: later}
    assert value["seen"] == {
        TAG.identity: int(T0.timestamp()),
        RETENTION.identity: int(later.timestamp()),
    }
    value, _ = bookkeep(value, report("clean"), later)
    assert value["seen"] == {} and value["digest"] == ""


def test_a_failed_check_keeps_what_was_known() -> None:
    known, _ = bookkeep({}, report("drifted", TAG), T0)
    later = T0 + timedelta(minutes=30)
    value, failed = bookkeep(known, report("check-failed", errors=["preflight: x"]), later)
    assert value == {**known, "status": "check-failed", "checked": later.isoformat()}
    assert failed.first_seen == {}


def test_the_variable_fits_its_size_limit_newest_first_seen_dropped_first() -> None:
    seen = {f"id{i:04}": 1_700_000_000 + i for i in range(400)}
    value = compact({"version": 1, "digest": "d", "seen": dict(seen)})
    assert len(json.dumps(value)) <= MAX_VARIABLE_CHARS
    kept = value["seen"]
    assert kept and kept == {k: seen[k] for k in sorted(seen)[: len(kept)]}
    assert value["digest"] == "d"


def test_event_payload_caps_findings() -> None:
    many = [finding(f"aws_vpc.v{i:03}", "tags.Owner") for i in range(MAX_EVENT_FINDINGS + 5)]
    _, bookkept = bookkeep({}, report("drifted", *many), T0)
    payload = event_payload(bookkept)
    assert len(payload["findings"]) == MAX_EVENT_FINDINGS and payload["truncated"] == 5
    assert payload["counts"]["drift"] == MAX_EVENT_FINDINGS + 5
    first = payload["findings"][0]
    assert first["resource"] == "aws_vpc.v000" and first["first_seen"] == T0.isoformat()
    assert "stack" not in first  # None fields are left out
