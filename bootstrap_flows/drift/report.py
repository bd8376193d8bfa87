"""The drift report as a person sees it: a table artifact of the findings, a summary artifact,
and the run's final state (Completed, Failed "Drifted", Failed "CheckFailed", Completed
"Skipped")."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import State
from prefect.states import Completed, Failed

from bootstrap_flows.drift.findings import DriftCheckFailed, DriftDetected, DriftReport


def table_rows(report: DriftReport) -> list[dict[str, str]]:
    """One row per finding; a single "no drift" row when there is none (an empty table reads
    as broken)."""
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
    return rows or [{"kind": "(none)", "resource": "no drift", "attribute": "", "action": ""}]


def summary_markdown(report: DriftReport) -> str:
    env = report.environment
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
    return "\n".join(lines)


def publish(report: DriftReport) -> None:
    """The table (`<env>-drift`) and summary (`<env>-drift-summary`) artifacts."""
    create_table_artifact(
        key=f"{report.environment}-drift",
        table=table_rows(report),
        description=report.describe(),
    )
    create_markdown_artifact(
        markdown=summary_markdown(report),
        key=f"{report.environment}-drift-summary",
        description=report.describe(),
    )


def final_state(report: DriftReport) -> State[Any]:
    """Drifted and CheckFailed are both Failed, told apart by name and by the error they carry."""
    message = report.describe()
    if report.status == "check-failed":
        return Failed(name="CheckFailed", message=message, data=DriftCheckFailed(message, report))
    if report.status == "drifted":
        return Failed(name="Drifted", message=message, data=DriftDetected(message, report))
    if report.status == "skipped":
        return Completed(name="Skipped", message=message, data=report)
    return Completed(message=message, data=report)
