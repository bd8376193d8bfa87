"""The events bootstrap-flows emits about an environment: their names and the resource they
are about. Here, below both, so drift-check (which emits them) and the alert automations
(which listen for them) name them once."""

from __future__ import annotations

EVENT_DETECTED = "bootstrap.drift.detected"
EVENT_RESOLVED = "bootstrap.drift.resolved"
EVENT_CHECK_FAILED = "bootstrap.drift.check-failed"


def environment_resource(environment: str) -> dict[str, str]:
    """The event resource all of an environment's drift events are about."""
    return {
        "prefect.resource.id": f"bootstrap-flows.environment.{environment}",
        "prefect.resource.name": environment,
    }
