"""IAM policies linted with parliament: unknown actions, resources of the wrong type for an
action, condition keys an action does not support, malformed statements.

parliament knows only identity policies (a statement must name a Resource). A trust policy
addresses its own role, so it is linted with that role as the statement's resource; a resource
policy (an SQS queue's) already names its resource.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from parliament import analyze_policy_string


@dataclass(frozen=True)
class Finding:
    policy: str  # where the policy lives: "role <name> inline <policy>", "queue <name>", ...
    issue: str  # parliament's issue code: UNKNOWN_ACTION, RESOURCE_MISMATCH, ...
    detail: str

    def __str__(self) -> str:
        return f"{self.policy}: {self.issue}: {self.detail}"


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def as_identity_policy(document: dict[str, Any], resource: str) -> dict[str, Any]:
    """A trust policy as parliament can read it: no Principal, the role as its Resource."""
    statements = [
        {key: value for key, value in statement.items() if key != "Principal"}
        | {"Resource": resource}
        for statement in _statements(document)
    ]
    return {"Version": document.get("Version", "2012-10-17"), "Statement": statements}


def lint(policy: str, document: dict[str, Any]) -> list[Finding]:
    """Every parliament finding for `document`, none ignored: a finding that is accepted
    belongs in the policy (a narrower resource), not in a skip list."""
    analyzed = analyze_policy_string(json.dumps(document))
    return [Finding(policy, str(f.issue), str(f.detail)) for f in analyzed.findings]
