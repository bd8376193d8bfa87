"""A small evaluator of identity policies for one request: Action, Resource and Condition.

No maintained Python evaluator takes a request context (moto's checks no Resource and fails a
statement on any condition key it does not supply, see shared/environment.md), so this one does
what our policies use: Allow/Deny, Action/NotAction, Resource/NotResource with `*` and `?`,
and the condition operators below (with `IfExists`). An explicit Deny wins; otherwise a call
is allowed if one Allow statement matches it. tests/unit/local/test_iam_policy.py pins its
answers.

Three users: the tests, which judge recorded calls against the roles' policies; moto's IAM
SimulatePrincipalPolicy (bootstrap_local/aws_like/iam.py), which preflight asks about the
caller; and the local ECS runtime, which holds a role's trust policy to the service assuming it
(`trusts`); so the emulator's answers and the tests' verdicts are the same code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Request:
    action: str  # service:Operation
    resource: str  # the ARN the call addresses, "*" for an action without resource type
    context: dict[str, str] = field(default_factory=dict)  # condition key -> value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """A policy's `*`/`?` pattern as a regex, made once: the simulator matches the same few
    hundred patterns thousands of times per preflight (building each anew cost seconds)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(regex, flags | re.DOTALL)


def _glob(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    return _compiled(pattern, case_sensitive).fullmatch(value) is not None


OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": _glob,
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": _glob,
    "Bool": lambda want, got: want.lower() == got.lower(),
    "NumericEquals": lambda want, got: float(want) == float(got),
}
NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, wanted: Any, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if key not in context:
        # A missing key fails a condition, except with IfExists or a negated operator.
        return if_exists or base in NEGATED
    got = context[key]
    if base in NEGATED:
        return not any(OPERATORS[NEGATED[base]](str(w), got) for w in _as_list(wanted))
    if base not in OPERATORS:
        raise ValueError(
            f"condition operator {operator} is not supported by bootstrap_local/iam_policy.py"
        )
    return any(OPERATORS[base](str(w), got) for w in _as_list(wanted))


def statement_matches(statement: dict[str, Any], request: Request) -> bool:
    """Whether `statement` applies to `request`: action, resource and every condition."""
    if "Action" in statement:
        actions = _as_list(statement["Action"])
        if not any(_glob(a, request.action, case_sensitive=False) for a in actions):
            return False
    elif any(_glob(a, request.action, False) for a in _as_list(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_glob(r, request.resource) for r in _as_list(statement["Resource"])):
            return False
    elif any(_glob(r, request.resource) for r in _as_list(statement.get("NotResource", []))):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, wanted in keys.items():
            if not _condition_holds(operator, key, wanted, request.context):
                return False
    return True


Decision = Literal["allowed", "explicitDeny", "implicitDeny"]


def evaluate(documents: list[dict[str, Any]], request: Request) -> Decision:
    """IAM's three answers (SimulatePrincipalPolicy's EvalDecision) for these policies together:
    a matching Deny wins, then a matching Allow; nothing matching is an implicit deny."""
    statements = [s for doc in documents for s in _as_list(doc.get("Statement", []))]
    matching = [s for s in statements if statement_matches(s, request)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return "explicitDeny"
    if any(s.get("Effect") == "Allow" for s in matching):
        return "allowed"
    return "implicitDeny"


def decide(documents: list[dict[str, Any]], request: Request) -> bool:
    """Allowed by these identity policies together: some Allow matches and no Deny does."""
    return evaluate(documents, request) == "allowed"


def _names_service(statement: dict[str, Any], service: str) -> bool:
    """Whether a trust statement's Principal covers the AWS service principal `service`."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False  # NotPrincipal, or none: never what a service assumes a role through
    return "*" in _as_list(principal.get("AWS", [])) or service in _as_list(
        principal.get("Service", [])
    )


def trusts(document: dict[str, Any], service: str, request: Request) -> bool:
    """Whether a role's trust policy lets `service` (e.g. ecs-tasks.amazonaws.com) make
    `request` (sts:AssumeRole, with the context the service supplies: aws:SourceAccount,
    aws:SourceArn): the statements naming that principal, evaluated as a policy."""
    statements = [s for s in _as_list(document.get("Statement", [])) if _names_service(s, service)]
    return decide([{"Statement": statements}], request)
