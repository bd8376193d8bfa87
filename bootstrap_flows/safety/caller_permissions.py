"""Preflight's check of the caller against the operator policy (issue 23): every permission
bootstrap, drift-check and teardown need, asked of IAM's policy simulator
(iam:SimulatePrincipalPolicy) for the identity running them, before anything is created. A
caller that lacks some is refused with one message listing each missing action and resource,
instead of failing halfway through an apply.

What is asked: each Allow statement of the operator policy rendered for the environment
(bootstrap_flows/safety/operator_policy.py), its actions on its resources, with the condition
values it requires as the request's context (region, passed service, policy ARN). One simulator
call per statement, a few at a time: on AWS each takes a fraction of a second.

The simulator judges the caller's identity policies (its user's or role's, and its groups',
with a permissions boundary), not service control policies or session policies. The resources
asked about are the policy's own patterns (`role/<stack>-*`): a caller granted narrower
resources that would still cover this environment's names is reported as missing them.

A caller that may not call the simulator, or that it cannot simulate (the root user, a
federated user), is not refused: one warning says the check was skipped and why.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.safety import operator_policy

if TYPE_CHECKING:
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_iam.type_defs import ContextEntryTypeDef

# Condition operators whose values a request can carry as they are written (a negated one says
# what the request must not be, so no value of it makes a realistic request).
AS_WRITTEN = ("StringEquals", "StringLike", "ArnEquals", "ArnLike", "StringEqualsIgnoreCase")
PARALLEL = 6


class CallerPermissionsError(BootstrapError):
    """The caller lacks permissions the operator policy grants; nothing has been created."""


@dataclass(frozen=True)
class Question:
    """One simulator call: a statement's actions on its resources, in its context."""

    sid: str
    actions: list[str]
    resources: list[str]
    context: list[ContextEntryTypeDef]


@dataclass(frozen=True)
class Missing:
    action: str
    resource: str
    decision: str  # implicitDeny or explicitDeny
    missing_context: tuple[str, ...] = ()

    def line(self) -> str:
        why = "denied explicitly" if self.decision == "explicitDeny" else "not granted"
        unknown = ", ".join(self.missing_context)
        needs = f"; the caller's policy asks for context {unknown}" if unknown else ""
        return f"  - {self.action} on {self.resource} ({why}{needs})"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def questions(policy: dict[str, Any]) -> list[Question]:
    """The simulator calls that cover `policy`'s Allow statements."""
    asked = []
    for number, statement in enumerate(_as_list(policy["Statement"])):
        if statement.get("Effect") != "Allow":
            continue
        context: list[ContextEntryTypeDef] = [
            {
                "ContextKeyName": key,
                "ContextKeyValues": [str(value) for value in _as_list(wanted)][:1],
                "ContextKeyType": "string",
            }
            for operator, keys in (statement.get("Condition") or {}).items()
            if operator.removesuffix("IfExists") in AS_WRITTEN
            for key, wanted in keys.items()
        ]
        asked.append(
            Question(
                str(statement.get("Sid", f"statement {number}")),
                _as_list(statement["Action"]),
                _as_list(statement.get("Resource", "*")),
                context,
            )
        )
    return asked


def principal_arn(caller_arn: str) -> str:
    """The IAM entity whose policies decide: an assumed role's role (its path, which the
    session's ARN leaves out, is found by `resolve_role_path`), otherwise the caller itself."""
    head, _, rest = caller_arn.partition(":assumed-role/")
    if not rest:
        return caller_arn
    return f"{head.replace(':sts:', ':iam:', 1)}:role/{rest.split('/', 1)[0]}"


def resolve_role_path(iam: IAMClient, arn: str) -> str:
    """A role's full ARN (with its path, e.g. an SSO role's /aws-reserved/...)."""
    if ":role/" not in arn:
        return arn
    return str(iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]["Arn"])


def ask(iam: IAMClient, principal: str, question: Question) -> list[Missing]:
    """What the simulator denies of one question, over every page of its answer."""
    missing: list[Missing] = []
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=principal,
        ActionNames=question.actions,
        ResourceArns=question.resources,
        ContextEntries=question.context,
    )
    for page in pages:
        for result in page["EvaluationResults"]:
            # AWS answers per resource in ResourceSpecificResults; without it, at the top.
            answers: list[Any] = result.get("ResourceSpecificResults") or [
                {
                    "EvalResourceName": result.get("EvalResourceName", "*"),
                    "EvalResourceDecision": result["EvalDecision"],
                    "MissingContextValues": result.get("MissingContextValues", []),
                }
            ]
            missing += [
                Missing(
                    result["EvalActionName"],
                    one["EvalResourceName"],
                    one["EvalResourceDecision"],
                    tuple(one.get("MissingContextValues") or ()),
                )
                for one in answers
                if one["EvalResourceDecision"] != "allowed"
            ]
    return missing


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow run's logger inside a run (its log is where the operator looks), else ours."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def find_missing(settings: BootstrapSettings, account_id: str, caller_arn: str) -> list[Missing]:
    """Every permission of the operator policy the caller lacks (ClientError when the
    simulator cannot be asked)."""
    asked = questions(operator_policy.render(settings, account_id))
    iam = aws.client(settings, "iam")
    principal = principal_arn(caller_arn)
    if principal != caller_arn:
        principal = resolve_role_path(iam, principal)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        answers = pool.map(lambda question: ask(iam, principal, question), asked)
        return [missing for answer in answers for missing in answer]


def check_caller_permissions(settings: BootstrapSettings, account_id: str, caller_arn: str) -> None:
    """Refuse a caller that lacks any permission of the operator policy, listing them all."""
    try:
        missing = find_missing(settings, account_id, caller_arn)
    except (ClientError, BotoCoreError) as exc:
        _logger().warning(
            "Skipped checking %s against the operator policy: IAM's policy simulator could not "
            "be asked (%s). Grant iam:SimulatePrincipalPolicy and iam:GetRole on the caller "
            "(the operator policy does) to have preflight list missing permissions up front",
            caller_arn,
            exc,
        )
        return
    if missing:
        lines = "\n".join(sorted({one.line() for one in missing}))
        count = lines.count("\n") + 1
        raise CallerPermissionsError(
            f"the AWS identity {caller_arn} lacks {count} permission(s) of the operator policy "
            f"for environment {settings.environment!r}, so this run would fail partway:\n"
            f"{lines}\nGrant them: `bootstrap-flows operator-policy {settings.environment}` "
            "prints the policy to attach (or apply infrastructure/terraform/modules/operator)."
        )
