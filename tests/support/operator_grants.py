"""The operator policy (infrastructure/terraform/modules/operator) against the operator's
recorded calls (tests/support/aws_calls.py `operator_calls`), both directions:

- every call is allowed by the policy rendered for the environment, evaluated per IAM request
  (action, the resources it names, and the condition keys: region, passed service, policy ARN)
  by bootstrap_local/iam_policy.py;
- every action the policy grants was made, or the module README's "Grants no recorded call
  uses" table says when it is needed.

The resources are derived from the names each call carries (bootstrap_local/operator_calls.py
keeps only those): per service, the ARN IAM authorizes the call against, or "*" for actions
without resource-level permissions (IAM's Service Authorization Reference).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.safety import operator_policy, service_linked_roles
from bootstrap_local.iam_policy import Request, decide
from tests.support.aws_calls import UNAUTHORIZED, Call, operator_calls
from tests.support.platform_state import ACCOUNT

README = operator_policy.MODULE / "README.md"
JUSTIFIED_ROW = re.compile(r"^\|\s*`([a-z0-9-]+:[A-Za-z0-9]+)`\s*\|\s*(.+?)\s*\|\s*$")
# Calls the tests make with the operator's key that are not the operator's: the user's own
# certificate (its ARN is a setting) and a change made by hand for drift-check to find.
NOT_THE_OPERATORS = {"acm:ImportCertificate", "rds:ModifyDBInstance"}
# ... and the test reading the database's master password (RDS's managed secret) to query it.
HARNESS_SECRET = ":secret:rds!"
# Read-only operations that name nothing IAM can scope (Describe*/List* of EC2, ELB, ...).
UNSCOPED_PREFIXES = ("Describe", "List", "Get")
UNSCOPED_SERVICES = {"ec2", "elasticloadbalancing"}
# Services with no resource-level permissions at all (the teardown receipt's tag search;
# Service Quotas' reads, preflight's quota check).
NO_RESOURCES = {"tagging", "servicequotas"}
# ECS operations without resource-level permissions (besides List*).
ECS_UNSCOPED = {"DescribeTaskDefinition", "DeregisterTaskDefinition", "ListTaskDefinitions"}


def module_calls(recording: Path, start: int) -> list[Call]:
    """The operator's calls recorded from byte `start` on (a module's own); a copy goes to
    $OPERATOR_CALLS_COPY when set, to derive the policy from (names only, no secrets)."""
    copy = os.environ.get("OPERATOR_CALLS_COPY")
    if copy and recording.exists():
        with recording.open() as source, open(copy, "w") as target:
            source.seek(start)
            shutil.copyfileobj(source, target)
    return operator_calls(recording, start)


def justified(readme: Path = README) -> dict[str, str]:
    """Action -> why it is granted though no recorded call uses it (the README's table)."""
    found: dict[str, str] = {}
    in_table = False
    for line in readme.read_text().splitlines():
        if line.startswith("## "):
            in_table = line.strip() == "## Grants no recorded call uses"
        elif in_table and (match := JUSTIFIED_ROW.match(line)):
            found[match.group(1)] = match.group(2)
    return found


def recorded_in(test_file: str, readme: Path = README) -> set[str]:
    """The justified actions whose reason says `test_file` records them: its check must see
    each, so a reason cannot cite a recording that no longer makes the call."""
    return {action for action, why in justified(readme).items() if f"`{test_file}`" in why}


@dataclass(frozen=True)
class Where:
    call: Call
    account: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.call.region}:{self.account}:{resource}"

    def param(self, *names: str) -> str | None:
        for name in names:
            value = self.call.params.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            if value:
                return str(value)
        return None

    def given(self, prefix: str) -> list[str]:
        """Values of a parameter and of its flattened list form (Names, Names.member.1)."""
        found: list[str] = []
        for name, value in self.call.params.items():
            if name == prefix or name.startswith(prefix + "."):
                found += value if isinstance(value, list) else [value]
        return [str(v) for v in found]


# A service-linked role's ARN holds its path (/aws-service-role/<service>/), which IAM matches.
LINKED = {role.name: role for role in service_linked_roles.ALL}
LINKED_BY_SERVICE = {role.service: role for role in service_linked_roles.ALL}


def _iam(w: Where) -> list[str]:
    if principal := w.param("PolicySourceArn"):  # the simulator: the user or role it asks about
        # moto's own identity calls itself arn:aws:sts::<account>:user/moto; AWS names a user
        # arn:aws:iam::<account>:user/<name>, and that is what the policy grants.
        return [re.sub(r"^(arn:[^:]+):sts::(\d{12}):user/", r"\1:iam::\2:user/", principal)]
    if service := w.param("AWSServiceName"):  # CreateServiceLinkedRole
        linked = LINKED_BY_SERVICE.get(service)
        return [linked.arn(w.account) if linked else f"arn:aws:iam::{w.account}:role/*"]
    if role := w.param("RoleName"):
        if role in LINKED:
            return [LINKED[role].arn(w.account)]
        return [f"arn:aws:iam::{w.account}:role/{role}"]
    if policy := w.param("PolicyArn"):
        return [policy]
    if provider := w.param("OpenIDConnectProviderArn"):
        return [provider]
    if url := w.param("Url"):  # CreateOpenIDConnectProvider: IAM names it by the URL's host
        return [f"arn:aws:iam::{w.account}:oidc-provider/{url.removeprefix('https://')}"]
    return ["*"]


def _route53(w: Where) -> list[str]:
    """Route 53 is global: its ARNs carry no region or account. A change (GetChange) is a
    resource of its own; a tag call names the resource's type and ID."""
    if w.call.action == "GetChange" and (change := w.param("Id")):
        return [f"arn:aws:route53:::change/{change.rsplit('/', 1)[-1]}"]
    if kind := w.param("ResourceType"):
        return [f"arn:aws:route53:::{kind}/{w.param('ResourceId')}"]
    if zone := w.param("Id", "HostedZoneId"):
        return [f"arn:aws:route53:::hostedzone/{zone.rsplit('/', 1)[-1]}"]
    return ["*"]


def _ecs(w: Where) -> list[str]:
    if w.call.action in ECS_UNSCOPED or w.call.action.startswith("List"):
        return ["*"]
    if arn := w.param("resourceArn"):
        return [arn]
    cluster = w.param("cluster", "clusterName") or "default"
    cluster_name = cluster.rsplit("/", 1)[-1]
    if tasks := w.given("tasks"):
        return [
            t if t.startswith("arn:") else w.arn("ecs", f"task/{cluster_name}/{t}") for t in tasks
        ]
    services = w.given("services") or ([s] if (s := w.param("service", "serviceName")) else [])
    if services:
        return [
            s if s.startswith("arn:") else w.arn("ecs", f"service/{cluster_name}/{s}")
            for s in services
        ]
    if family := w.param("family"):
        return [w.arn("ecs", f"task-definition/{family}:*")]
    clusters = w.given("clusters") or [cluster]
    return [c if c.startswith("arn:") else w.arn("ecs", f"cluster/{c}") for c in clusters]


def _by_arn_or(name_params: tuple[str, ...], arn_params: tuple[str, ...], make: Any) -> Any:
    def resolve(w: Where) -> list[str]:
        if arn := w.param(*arn_params):
            return [arn]
        if name := w.param(*name_params):
            return [make(w, name)]
        return ["*"]

    return resolve


def _secret(w: Where) -> list[str]:
    given = w.param("SecretId", "Name")
    if given is None:
        return ["*"]
    # A name: the ARN ends in "-" and six random characters.
    return [given if given.startswith("arn:") else w.arn("secretsmanager", f"secret:{given}-*")]


def _sqs(w: Where) -> list[str]:
    if url := w.param("QueueUrl"):
        owner, name = url.rstrip("/").split("/")[-2:]
        return [f"arn:aws:sqs:{w.call.region}:{owner}:{name}"]
    if name := w.param("QueueName"):
        return [w.arn("sqs", name)]
    return ["*"]


def _s3(w: Where) -> list[str]:
    bucket, key = w.param("Bucket"), w.param("Key")
    if w.call.action in {"ListAllMyBuckets"} or not bucket:
        return ["*"]
    if key or w.call.action in {"DeleteObject", "DeleteObjectVersion"}:
        return [f"arn:aws:s3:::{bucket}/{key or '*'}"]
    return [f"arn:aws:s3:::{bucket}"]


def _rds(w: Where) -> list[str]:
    if arn := w.param("ResourceName"):
        return [arn]
    named = [
        ("DBSnapshotIdentifier", "snapshot"),
        ("FinalDBSnapshotIdentifier", "snapshot"),
        ("DBInstanceIdentifier", "db"),
        ("DBSubnetGroupName", "subgrp"),
    ]
    found = [w.arn("rds", f"{kind}:{value}") for name, kind in named if (value := w.param(name))]
    return found or ["*"]


def _elb(w: Where) -> list[str]:
    arns = [*w.given("LoadBalancerArn"), *w.given("TargetGroupArn"), *w.given("ListenerArn")]
    arns += w.given("ResourceArns")
    if arns:
        return arns
    if name := w.param("Name"):  # CreateLoadBalancer / CreateTargetGroup
        kind = "targetgroup" if w.call.action == "CreateTargetGroup" else "loadbalancer/app"
        return [w.arn("elasticloadbalancing", f"{kind}/{name}/*")]
    return ["*"]


RESOLVERS: dict[str, Callable[[Where], list[str]]] = {
    "iam": _iam,
    "ecs": _ecs,
    "ecr": _by_arn_or(
        ("repositoryName",), ("resourceArn",), lambda w, n: w.arn("ecr", f"repository/{n}")
    ),
    "logs": _by_arn_or(
        ("logGroupName", "logGroupIdentifier"),
        ("resourceArn",),
        lambda w, n: w.arn("logs", f"log-group:{n}"),
    ),
    "events": _by_arn_or(
        ("Name", "Rule"), ("ResourceARN",), lambda w, n: w.arn("events", f"rule/{n}")
    ),
    "secretsmanager": _secret,
    "sqs": _sqs,
    "s3": _s3,
    "rds": _rds,
    "elasticloadbalancing": _elb,
    "acm": _by_arn_or((), ("CertificateArn",), lambda w, n: n),
    "route53": _route53,
    "monitoring": lambda w: (
        [w.arn("cloudwatch", f"alarm:{n}") for n in w.given("AlarmName") + w.given("AlarmNames")]
        or ([r] if (r := w.param("ResourceARN")) else ["*"])
    ),
}
# Signing names that are not the IAM prefix of their actions.
IAM_PREFIX = {"monitoring": "cloudwatch"}


def _resources(call: Call, account: str) -> list[str]:
    if call.service in UNSCOPED_SERVICES and call.action.startswith(UNSCOPED_PREFIXES):
        return ["*"]
    if call.service in NO_RESOURCES:
        return ["*"]
    if call.service == "ec2":  # mutations: scoped to the account and region (see README)
        return [f"arn:aws:ec2:{call.region}:{account}:*"]
    if call.service not in RESOLVERS:
        raise KeyError(f"no resource mapping for {call.iam_action} (tests/support/operator_grants)")
    return RESOLVERS[call.service](Where(call, account))


def requests_of(call: Call, account: str) -> list[Request]:
    """The IAM requests of one operator call, the implied ones included (roles passed to ECS
    task definitions; managed policies attached to roles)."""
    if call.iam_action in UNAUTHORIZED:
        return []
    context = {"aws:RequestedRegion": call.region}
    action = f"{IAM_PREFIX.get(call.service, call.service)}:{call.action}"
    if call.iam_action in {"iam:AttachRolePolicy", "iam:DetachRolePolicy"}:
        context["iam:PolicyARN"] = str(call.params.get("PolicyArn"))
    if call.iam_action == "iam:CreateServiceLinkedRole":
        context["iam:AWSServiceName"] = str(call.params.get("AWSServiceName"))
    requests = [Request(action, r, context) for r in _resources(call, account)]
    if call.iam_action == "ecs:RegisterTaskDefinition":
        for name in ("taskRoleArn", "executionRoleArn"):
            if role := call.params.get(name):
                passed = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                requests.append(Request("iam:PassRole", str(role), passed))
    return requests


def granted_actions(document: dict[str, Any]) -> set[str]:
    statements = document["Statement"]
    return {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}


@dataclass
class Findings:
    denied: list[str] = field(default_factory=list)  # "action resource" of each denied request
    unused: list[str] = field(default_factory=list)  # granted, never made, not justified
    seen: set[str] = field(default_factory=set)
    justified_unseen: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"actions made: {len(self.seen)}; justified, not made: {self.justified_unseen}"]
        lines += [f"denied: {d}" for d in self.denied]
        lines += [f"granted, never made, not justified: {u}" for u in self.unused]
        return "\n".join(lines)


def check_document(
    calls: list[Call], document: dict[str, Any], reasons: dict[str, str], account: str = ACCOUNT
) -> Findings:
    findings = Findings()
    for call in calls:
        if call.iam_action in NOT_THE_OPERATORS:
            continue
        if HARNESS_SECRET in str(call.params.get("SecretId", "")):
            continue
        for request in requests_of(call, account):
            findings.seen.add(request.action)
            if not decide([document], request):
                denied = f"{request.action} {request.resource} {request.context}"
                if denied not in findings.denied:
                    findings.denied.append(denied)
    granted = granted_actions(document)
    findings.unused = sorted(granted - findings.seen - set(reasons))
    findings.justified_unseen = sorted((granted & set(reasons)) - findings.seen)
    return findings


def check(calls: list[Call], settings: BootstrapSettings, account: str = ACCOUNT) -> Findings:
    """The policy rendered for `settings`' environment against `calls`, both directions."""
    document = operator_policy.render(settings, account)
    return check_document(calls, document, justified(), account)
