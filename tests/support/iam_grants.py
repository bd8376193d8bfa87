"""The permissions granted against the permissions used, from the AWS calls actually made.

Both directions, per role:
- every call recorded under a role (tests/support/aws_calls.py) is allowed by that role's
  policies as IAM holds them (inline, attached, permissions boundary), evaluated by
  bootstrap_local/iam_policy.py; a denied one is reported as the statement it lacks;
- every action a role's policies grant is seen in the recordings, or the Terraform that grants
  it says when it is needed, in a comment inside the policy's block:
  `# unrecorded ecs:StopTask, ecs:TagResource: <when it is needed>` (indented `#   ` lines
  continue it).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bootstrap_local.iam_policy import Request, decide
from tests.support.aws_calls import Call, requests_of

ACTION = r"[a-z0-9-]+:[A-Za-z0-9*]+"
MARKER = re.compile(rf"^\s*#\s*unrecorded\s+({ACTION}(?:\s*,\s*{ACTION})*)\s*:\s*(.*)$")
# An indented comment line continues the reason; the next plain comment is not part of it.
CONTINUATION = re.compile(r"^\s*#\s{2,}\S")
BLOCK = re.compile(r'^(resource|data)\s+"(\w+)"\s+"(\w+)"\s*\{')
INLINE_NAME = re.compile(r'^\s*name\s*=\s*"([^"]+)"')
# `policy = data.aws_iam_policy_document.<name>.json`, `[0]` after the name with `count`.
INLINE_DOCUMENT = re.compile(
    r"^\s*policy\s*=\s*data\.aws_iam_policy_document\.(\w+)(?:\[[^\]]*\])?\.json"
)
MANAGED_ARN = re.compile(r'^\s*policy_arn\s*=\s*".*:policy/(?:.*/)?([^/"]+)"')


def _document(value: Any) -> dict[str, Any]:
    """A policy document as IAM's API returns it: parsed, or URL-encoded JSON."""
    return dict(value) if isinstance(value, dict) else json.loads(unquote(str(value)))


@dataclass(frozen=True)
class RolePolicies:
    """A role's policies as IAM holds them: "inline <name>" / "managed <name>" -> document."""

    role_arn: str
    documents: dict[str, dict[str, Any]]
    boundary: dict[str, Any] | None = None

    def allows(self, request: Request) -> bool:
        allowed = decide(list(self.documents.values()), request)
        return allowed and (self.boundary is None or decide([self.boundary], request))

    def grants(self) -> dict[str, list[str]]:
        """Policy -> the actions its Allow statements name (patterns kept as written)."""
        granted: dict[str, list[str]] = {}
        for policy, document in self.documents.items():
            statements = document.get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                if statement.get("Effect") != "Allow":
                    continue
                if "NotAction" in statement:
                    raise ValueError(f"{policy} grants by NotAction: its grants cannot be listed")
                actions = statement.get("Action", [])
                granted.setdefault(policy, []).extend(
                    [actions] if isinstance(actions, str) else actions
                )
        return granted


def _managed_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    found = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    return _document(found["Document"])


def read_role_policies(iam: Any, role_arn: str) -> RolePolicies | None:
    """The policies of `role_arn` read back from IAM; None when the role no longer exists."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return None
    documents = {
        f"inline {policy}": _document(
            iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        )
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
    }
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        documents[f"managed {attached['PolicyName']}"] = _managed_document(
            iam, attached["PolicyArn"]
        )
    boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    boundary = _managed_document(iam, boundary_arn) if boundary_arn else None
    return RolePolicies(role_arn, documents, boundary)


@dataclass
class _Comment:
    block: str  # "data.aws_iam_policy_document.worker", ...
    actions: list[str]
    lines: list[str]


def unrecorded_reasons(terraform: str) -> dict[tuple[str, str], str]:
    """(policy, action) -> why a grant may go unrecorded, from `# unrecorded` comments.

    A comment belongs to the top-level block it is in: a policy document (named by the
    `aws_iam_role_policy` that puts it on a role: "inline <name>") or a managed policy's
    attachment ("managed <name>").
    """
    comments: list[_Comment] = []
    current: _Comment | None = None
    block = ""
    names: dict[str, str] = {}  # aws_iam_role_policy block -> its policy name
    documents: dict[str, str] = {}  # aws_iam_role_policy block -> its document's block
    policy_of: dict[str, str] = {}  # block -> the policy it is, as RolePolicies names it
    for line in terraform.splitlines():
        header, marker = BLOCK.match(line), MARKER.match(line)
        if header:
            block = ".".join(header.groups())
        elif marker:
            actions = [action.strip() for action in marker.group(1).split(",")]
            current = _Comment(block, actions, [marker.group(2).strip()])
            comments.append(current)
            continue
        elif current is not None and CONTINUATION.match(line):
            current.lines.append(line.strip().lstrip("#").strip())
            continue
        current = None
        if named := INLINE_NAME.match(line):
            names[block] = named.group(1)
        if document := INLINE_DOCUMENT.match(line):
            documents[block] = f"data.aws_iam_policy_document.{document.group(1)}"
        if (managed := MANAGED_ARN.match(line)) and ".aws_iam_role_policy_attachment." in block:
            policy_of[block] = f"managed {managed.group(1)}"
    for resource, data_block in documents.items():
        if resource in names:
            policy_of[data_block] = f"inline {names[resource]}"
    reasons: dict[tuple[str, str], str] = {}
    for comment in comments:
        if comment.block not in policy_of:
            raise ValueError(f"`# unrecorded` in {comment.block}, which puts no policy on a role")
        for action in comment.actions:
            reasons[(policy_of[comment.block], action)] = " ".join(filter(None, comment.lines))
    return reasons


@dataclass
class RoleCheck:
    """One role's recorded calls against its policies."""

    policies: RolePolicies
    calls: list[Call]
    denied: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (action, res, keys)
    used: set[str] = field(default_factory=set)  # the actions of every request evaluated

    def evaluate(self, account: str) -> None:
        for call in self.calls:
            for request in requests_of(call, account):
                self.used.add(request.action.lower())
                if not self.policies.allows(request):
                    self.denied[missing_statement(request)] += 1

    def unused(self) -> list[tuple[str, str]]:
        """(policy, action) of every grant no recorded request used."""
        return [
            (policy, action)
            for policy, actions in self.policies.grants().items()
            for action in dict.fromkeys(actions)
            if not any(re.fullmatch(_pattern(action), used) for used in self.used)
        ]


def _pattern(action: str) -> str:
    return ".*".join(re.escape(part) for part in action.lower().split("*"))


def missing_statement(request: Request) -> tuple[str, str, str]:
    """The statement a denied request lacks: action, resource and its condition values."""
    keys = ", ".join(f"{key}={value}" for key, value in sorted(request.context.items()))
    return request.action, request.resource, keys


@dataclass
class Findings:
    """Every role's check, the roles gone before they could be checked, and the reasons the
    Terraform gives for grants that go unrecorded."""

    checks: dict[str, RoleCheck]
    gone: dict[str, int]  # role ARN -> calls not checked
    reasons: dict[tuple[str, str], str]
    unattributed: list[Call]  # signed with a role's key the ECS runtime did not hand out

    def denials(self, expected: set[tuple[str, str]]) -> list[str]:
        """A line per denied request whose (action, resource) is not in `expected`."""
        return [
            f"{role}: {count} call(s) denied; missing: Allow {action} on {resource}"
            + (f" with {keys}" if keys else "")
            for role, check in self.checks.items()
            for (action, resource, keys), count in sorted(check.denied.items())
            if (action, resource) not in expected
        ]

    def unexplained(self, roles: list[str]) -> list[str]:
        """A line per grant of `roles` neither recorded nor explained by the Terraform."""
        return [
            f"{role}: {policy} grants {action}, never recorded and no `# unrecorded "
            f"{action}: <when it is needed>` comment in its Terraform"
            for role in roles
            for policy, action in self.checks[role].unused()
            if (policy, action) not in self.reasons
        ]

    def report(self, uses: dict[str, str]) -> str:
        """Per role: calls seen, actions granted, grants without a recorded use and why."""
        lines: list[str] = []
        for role, check in self.checks.items():
            seen = Counter(call.iam_action for call in check.calls)
            lines += [
                f"{role} ({uses.get(role, 'no ledger entry')})",
                f"  calls seen: {len(check.calls)}, {len(seen)} distinct: "
                + ", ".join(f"{action} x{n}" for action, n in sorted(seen.items())),
            ]
            for policy, actions in check.policies.grants().items():
                lines.append(f"  granted by {policy}: {', '.join(dict.fromkeys(actions))}")
            for policy, action in check.unused():
                why = self.reasons.get((policy, action), "NO REASON GIVEN")
                lines.append(f"  not recorded: {action} ({policy}): {why}")
            lines += [f"  denied x{n}: {' '.join(d)}" for d, n in sorted(check.denied.items())]
        lines += [
            f"{role}: gone before the check, {n} call(s) unchecked" for role, n in self.gone.items()
        ]
        return "\n".join(lines)


def current_calls(
    iam: Any, by_role: dict[str, list[Call]], ledger: dict[str, dict[str, str]]
) -> tuple[dict[str, list[Call]], dict[str, int]]:
    """Each role's calls made under the role IAM holds now, and per role how many were made
    under an earlier role of the same name (destroyed and created again since, as a teardown
    and a bootstrap do): those were allowed by that role's policies, which named other
    resources (a secret's ARN ends in a new random suffix each time), so they are not checked."""
    kept: dict[str, list[Call]] = {}
    earlier: dict[str, int] = {}
    for role, calls in by_role.items():
        created = _created(iam, role) if role.startswith("arn:") else None
        for call in calls:
            issued = ledger.get(call.key_id, {}).get("issued")
            if created is not None and issued is not None and float(issued) < created:
                earlier[role] = earlier.get(role, 0) + 1
            else:
                kept.setdefault(role, []).append(call)
    return kept, earlier


def _created(iam: Any, role_arn: str) -> float | None:
    try:
        role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
    except iam.exceptions.NoSuchEntityException:
        return None
    return float(role["CreateDate"].timestamp())


def check_calls(
    iam: Any, by_role: dict[str, list[Call]], terraform: list[Path], roles: list[str]
) -> Findings:
    """Each role's recorded calls against its policies as IAM holds them now; `roles` are
    checked even if they made no call (their grants are then all unused)."""
    checks: dict[str, RoleCheck] = {}
    gone: dict[str, int] = {}
    attributed: dict[str, list[Call]] = {role: [] for role in roles} | {
        role: calls for role, calls in by_role.items() if role.startswith("arn:")
    }
    unattributed = [
        call for role, calls in by_role.items() if role not in attributed for call in calls
    ]
    for role, calls in sorted(attributed.items()):
        policies = read_role_policies(iam, role)
        if policies is None:
            gone[role] = len(calls)
            continue
        checks[role] = RoleCheck(policies, calls)
        checks[role].evaluate(account=role.split(":")[4])
    reasons: dict[tuple[str, str], str] = {}
    for path in terraform:
        reasons.update(unrecorded_reasons(path.read_text()))
    return Findings(checks, gone, reasons, unattributed)


def uses(ledger: dict[str, dict[str, str]]) -> dict[str, str]:
    """Role ARN -> what the ECS runtime assumed it for: "task role of 3 tasks", ..."""
    tasks: dict[str, dict[str, set[str]]] = {}
    for entry in ledger.values():
        tasks.setdefault(entry["role"], {}).setdefault(entry["use"], set()).add(entry["task"])
    return {
        role: ", ".join(f"{use} role of {len(arns)} task(s)" for use, arns in sorted(by.items()))
        for role, by in tasks.items()
    }
