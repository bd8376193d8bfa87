"""The artifacts a person reads and the final state a run ends in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bootstrap_flows.drift.findings import DriftCheckFailed, DriftDetected, DriftReport, Status
from bootstrap_flows.drift.report import final_state, summary_markdown, table_rows
from tests.unit.drift.shown import finding

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
TAG = finding("aws_vpc.this", "tags.Owner", "(none)", "me")


def test_table_rows() -> None:
    report = DriftReport(
        environment="dev",
        status="drifted",
        findings=[TAG, finding("aws_vpc.this", "cidr_block")],
        first_seen={TAG.identity: T0},
    )
    assert table_rows(report) == [
        {
            "kind": "drift",
            "resource": "aws_vpc.this",
            "attribute": "tags.Owner",
            "action": "changed",
            "expected": "(none)",
            "actual": "me",
            "first seen": "2025-01-01T12:00:00+00:00",
        },
        {
            "kind": "drift",
            "resource": "aws_vpc.this",
            "attribute": "cidr_block",
            "action": "changed",
            "expected": "a",
            "actual": "b",
            "first seen": "",
        },
    ]


def test_a_clean_table_says_so() -> None:
    rows = table_rows(DriftReport(environment="dev", status="clean"))
    assert rows == [{"kind": "(none)", "resource": "no drift", "attribute": "", "action": ""}]


def test_summary_of_a_drifted_run() -> None:
    report = DriftReport(
        environment="dev",
        status="drifted",
        findings=[TAG],
        ignored=2,
        event="bootstrap.drift.detected",
        remediation="bootstrap re-applied platform",
        seconds=12.34,
    )
    text = summary_markdown(report)
    assert text.startswith("# Drift check of `dev`: drifted\n")
    assert "dev drifted: 1 drift" in text
    assert "| drift | 1 |" in text and "| image | 0 |" in text
    assert "Ignored by the ignore list: 2. Check time: 12.3 s." in text
    assert "Emitted `bootstrap.drift.detected`" in text
    assert "**Remediation:** bootstrap re-applied platform" in text
    assert "Details: the `dev-drift` table artifact." in text
    assert "Checks that failed" not in text


def test_summary_of_a_failed_check() -> None:
    report = DriftReport(environment="dev", status="check-failed", errors=["worker: boom"])
    text = summary_markdown(report)
    assert "## Checks that failed\n- worker: boom\n" in text
    assert "Emitted" not in text and "Details" not in text and "Remediation" not in text


@pytest.mark.parametrize(
    ("status", "state_type", "state_name", "data_type"),
    [
        ("clean", "COMPLETED", "Completed", DriftReport),
        ("skipped", "COMPLETED", "Skipped", DriftReport),
        ("drifted", "FAILED", "Drifted", DriftDetected),
        ("check-failed", "FAILED", "CheckFailed", DriftCheckFailed),
    ],
)
def test_final_state_for_each_status(
    status: Status, state_type: str, state_name: str, data_type: type
) -> None:
    report = DriftReport(
        environment="dev",
        status=status,
        findings=[TAG] if status == "drifted" else [],
        errors=["preflight: x"] if status == "check-failed" else [],
    )
    state = final_state(report)
    assert (state.type.value, state.name) == (state_type, state_name)
    assert state.message == report.describe()
    result = state.result(raise_on_failure=False)
    assert type(result) is data_type
    carried = result.report if isinstance(result, DriftDetected | DriftCheckFailed) else result
    assert carried == report
