"""What a drift check finds: one `Finding` per difference, a `DriftReport` per check, and the
errors a direct call of the flow raises when the check did not come back clean."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bootstrap_flows.errors import BootstrapError

Kind = Literal["drift", "pending", "prefect", "worker", "image"]
KINDS: tuple[Kind, ...] = ("drift", "pending", "prefect", "worker", "image")
Status = Literal["clean", "drifted", "check-failed", "skipped"]

# The attribute of a finding about a whole resource (deleted, created, missing).
WHOLE = "(resource)"


def digest(*parts: str) -> str:
    """A short stable hash of `parts` (finding identities, the bookkeeping's set digest)."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


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
        return digest(self.kind, self.resource, self.attribute, element)[:12]

    @property
    def fingerprint(self) -> str:
        """Changes when anything about the finding changes (notify-on-change)."""
        return digest(self.kind, self.resource, self.attribute, self.expected, self.actual)


def in_report_order(findings: list[Finding]) -> list[Finding]:
    """By kind (in KINDS order), then resource, attribute and value: stable run after run."""
    return sorted(findings, key=lambda f: (KINDS.index(f.kind), f.resource, f.attribute, f.actual))


def status_of(findings: list[Finding], errors: list[str]) -> Status:
    """A check that could not run says nothing about drift, whatever else it found."""
    return "check-failed" if errors else "drifted" if findings else "clean"


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


class NotClean(BootstrapError):
    """A drift check that did not come back clean; carries its report.

    The common base exists so the report and its pickling are written once. Catch the
    subclasses: drifted and check-failed call for different responses.
    """

    def __init__(self, message: str, report: DriftReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:  # results are pickled; keep both arguments
        return (type(self), (str(self), self.report))


class DriftDetected(NotClean):
    """Raised by a direct call of the flow when findings remain."""


class DriftCheckFailed(NotClean):
    """A check could not run: the environment's state is unknown (not the same as drifted)."""
