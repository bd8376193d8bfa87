"""IAM's policy simulator (SimulatePrincipalPolicy), which moto 5.2.6 does not implement
(it answers NotImplementedError), so that preflight's check of the caller against the operator
policy (bootstrap_flows/safety/caller_permissions.py) runs on the embedded default as on AWS
(tests/unit/local/test_moto_iam.py).

The principal's policies as IAM holds them are evaluated by bootstrap_local/iam_policy.py, the
evaluator the tests judge recorded calls with: a user's inline and attached policies and its
groups', a role's inline and attached policies, and a permissions boundary (the role's, or one
given in the request). The answer has AWS's shape: one EvaluationResult per action, with the
decision per resource in ResourceSpecificResults (allowed / explicitDeny / implicitDeny), paged
by MaxItems (AWS's default 100) and Marker.

Where it is simpler than AWS: EvalResourceName at the top is the resource when one was asked
and "*" otherwise (AWS gives the action's ARN template); MatchedStatements and
MissingContextValues are left out; resource policies and SCPs are not evaluated. moto's own
identity for credentials it does not know (`arn:aws:sts::<account>:user/moto`) may do
anything in moto, and the simulator says so.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult
from moto.iam.exceptions import InvalidInput, NotFoundException
from moto.iam.models import IAMBackend
from moto.iam.responses import IamResponse

from bootstrap_local.iam_policy import Decision, Request, evaluate

PAGE, MOST_PER_PAGE = 100, 1000
Document = dict[str, Any]


def _document(text: Any) -> Document:
    """A stored policy: moto keeps what it was given, JSON or URL-encoded JSON."""
    if isinstance(text, dict):
        return text
    try:
        parsed: Document = json.loads(text)
    except json.JSONDecodeError:
        parsed = json.loads(unquote(text))
    return parsed


def _managed(backend: IAMBackend, policies: dict[str, Any]) -> list[Document]:
    documents = []
    for arn in policies:
        policy = backend.get_policy(arn)
        [version] = [v for v in policy.versions if v.is_default]
        documents.append(_document(version.document))
    return documents


def _principal_policies(
    backend: IAMBackend, arn: str
) -> tuple[list[Document], Document | None] | None:
    """(identity policies, permissions boundary) of the user, group or role `arn` names; None
    for moto's own identity, which nothing limits. NoSuchEntity as on AWS for another."""
    head, _, path_and_name = arn.partition(":" + backend.account_id + ":")
    kind, _, rest = path_and_name.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if head.endswith(":sts:") and path_and_name == "user/moto":
        return None
    # moto keys users and groups by name, roles by ID.
    entities: dict[str, Any] = {
        "user": backend.users.values(),
        "role": backend.roles.values(),
        "group": backend.groups.values(),
    }
    if not head.endswith(":iam:") or kind not in entities:
        raise InvalidInput(f"Invalid ARN: {arn} is not the ARN of a user, group or role.")
    entity = next((one for one in entities[kind] if one.name == name), None)
    if entity is None or entity.arn != arn:
        raise NotFoundException(f"The {kind} with name {name} cannot be found.")
    holders = [entity]
    if kind == "user":
        holders += backend.get_groups_for_user(name)
    documents = [_document(text) for one in holders for text in one.policies.values()]
    documents += [d for one in holders for d in _managed(backend, one.managed_policies)]
    boundary_arn = getattr(entity, "permissions_boundary_arn", None)
    boundary = _managed(backend, {boundary_arn: None})[0] if boundary_arn else None
    return documents, boundary


def _decision(
    policies: tuple[list[Document], Document | None] | None, request: Request
) -> Decision:
    """Identity policies and boundary together: a Deny in either wins, then both must allow."""
    if policies is None:
        return "allowed"
    documents, boundary = policies
    decision = evaluate(documents, request)
    if boundary is None or decision == "explicitDeny":
        return decision
    bounded = evaluate([boundary], request)
    return decision if bounded == "allowed" else bounded


def _context(entries: list[dict[str, Any]] | None) -> dict[str, str]:
    """ContextEntries as the evaluator takes them: key -> its first value."""
    return {
        str(entry["ContextKeyName"]): str(entry["ContextKeyValues"][0])
        for entry in entries or []
        if entry.get("ContextKeyValues")
    }


def simulate(response: Any) -> list[dict[str, Any]]:
    """Every EvaluationResult of the request, before paging."""
    backend: IAMBackend = response.backend
    policies = _principal_policies(backend, response._get_param("PolicySourceArn"))
    if policies is not None:
        documents, boundary = policies
        documents += [_document(p) for p in response._get_param("PolicyInputList") or []]
        given = response._get_param("PermissionsBoundaryPolicyInputList") or []
        policies = documents, (_document(given[0]) if given else boundary)
    resources = response._get_param("ResourceArns") or ["*"]
    context = _context(response._get_param("ContextEntries"))
    results = []
    for action in response._get_param("ActionNames") or []:
        per_resource = [
            {
                "EvalResourceName": resource,
                "EvalResourceDecision": _decision(policies, Request(action, resource, context)),
            }
            for resource in resources
        ]
        decisions = {one["EvalResourceDecision"] for one in per_resource}
        # The action's answer is the strictest of its resources'.
        worst = next(d for d in ("explicitDeny", "implicitDeny", "allowed") if d in decisions)
        results.append(
            {
                "EvalActionName": action,
                "EvalResourceName": resources[0] if len(resources) == 1 else "*",
                "EvalDecision": worst,
                "ResourceSpecificResults": per_resource,
            }
        )
    return results


def simulate_principal_policy(response: Any) -> ActionResult:
    """SimulatePrincipalPolicy, one page of it (see the module's docstring)."""
    if not response._get_param("ActionNames"):
        raise InvalidInput("ActionNames must name at least one action.")
    size = int(response._get_param("MaxItems") or PAGE)
    if not 1 <= size <= MOST_PER_PAGE:
        raise InvalidInput(f"MaxItems must be between 1 and {MOST_PER_PAGE}, not {size}")
    marker = response._get_param("Marker") or "0"
    if not marker.isdigit():
        raise InvalidInput(f"Invalid Marker: {marker!r}")
    start = int(marker)
    results = simulate(response)
    body: dict[str, Any] = {
        "EvaluationResults": results[start : start + size],
        "IsTruncated": start + size < len(results),
    }
    if body["IsTruncated"]:
        body["Marker"] = str(start + size)
    return ActionResult(body)


def iam_like_aws() -> None:
    """SimulatePrincipalPolicy as the module's docstring says (idempotent). moto resolves an
    action to the response method of its snake_case name; without one it answers
    NotImplementedError, so this adds the method rather than wrapping one."""
    current = getattr(IamResponse, "simulate_principal_policy", None)
    if not getattr(current, "aws_like", False):
        response: Any = IamResponse
        response.simulate_principal_policy = simulate_principal_policy


simulate_principal_policy.__dict__["aws_like"] = True
