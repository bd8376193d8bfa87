"""AWS calls as moto server's request recorder wrote them, attributed to the role whose key
signed each one (the ECS runtime's ledger of the keys it handed out, `roles.read_ledger`).

A recording holds request bodies, and bodies can hold secret values: it is read here and
never printed whole.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
import httpx

from bootstrap_local.iam_policy import Request

CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Call:
    key_id: str
    region: str
    service: str  # the signing name: ecs, logs, secretsmanager, sts, ...
    action: str  # the API operation: RunTask, PutLogEvents, ...
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def iam_action(self) -> str:
        return f"{self.service}:{self.action}"


def _body(entry: dict[str, Any]) -> str:
    body = entry.get("body") or ""
    return base64.b64decode(body).decode(errors="replace") if entry.get("body_encoded") else body


def parse_entry(entry: dict[str, Any]) -> Call | None:
    """The call an entry records; None for one not signed with SigV4 (moto's own API)."""
    headers = {name.lower(): value for name, value in entry.get("headers", {}).items()}
    signed = CREDENTIAL.search(headers.get("authorization", ""))
    if signed is None:
        return None
    key_id, region, service = signed.groups()
    if service == "s3":
        return _s3_call(key_id, region, str(entry.get("method")), str(entry.get("url")))
    body = _body(entry)
    target = headers.get("x-amz-target")
    if target:  # JSON protocols: the operation is the target's last part, the body its input
        params = json.loads(body) if body.strip() else {}
        return Call(key_id, region, service, target.rsplit(".", 1)[-1], params)
    form = {name: values[0] for name, values in parse_qs(body).items()}
    if "Action" in form:  # query protocols (STS, SQS's older form, IAM, EC2)
        return Call(key_id, region, service, form.pop("Action"), form)
    return Call(key_id, region, service, f"{entry.get('method')} {entry.get('url')}")


def _s3_operation(method: str, has_key: bool, query: dict[str, list[str]]) -> str:
    """The IAM action of an S3 REST request (a HEAD is authorized as its GET, a multipart
    upload's every step as PutObject); one not listed here is left for the check to refuse."""
    if not has_key:
        if method in {"GET", "HEAD"} and set(query) <= {
            "list-type",
            "prefix",
            "delimiter",
            "continuation-token",
            "max-keys",
            "encoding-type",
            "start-after",
        }:
            return "ListBucket"
        return f"{method} bucket?{'&'.join(sorted(query))}"
    if method in {"GET", "HEAD"}:
        return "GetObject"
    if method in {"PUT", "POST"} and not set(query) - {"uploads", "uploadId", "partNumber"}:
        return "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return f"{method} object?{'&'.join(sorted(query))}"


def _s3_call(key_id: str, region: str, method: str, url: str) -> Call:
    """An S3 REST request, path-style (how clients address a loopback endpoint)."""
    parts = urlsplit(url)
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    query = parse_qs(parts.query, keep_blank_values=True)
    action = _s3_operation(method, bool(key), query)
    return Call(key_id, region, "s3", action, {"Bucket": bucket, "Key": key})


OPERATOR = "operator"
# S3 subresources (the query parameter that names them) -> the IAM action of each method.
S3_SUBRESOURCES: dict[str, dict[str, str]] = {
    "versioning": {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"},
    "policy": {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
    "acl": {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
    "cors": {"GET": "GetBucketCORS", "PUT": "PutBucketCORS", "DELETE": "PutBucketCORS"},
    "website": {"GET": "GetBucketWebsite", "PUT": "PutBucketWebsite"}
    | {"DELETE": "DeleteBucketWebsite"},
    "logging": {"GET": "GetBucketLogging", "PUT": "PutBucketLogging"},
    "lifecycle": {"GET": "GetLifecycleConfiguration", "PUT": "PutLifecycleConfiguration"}
    | {"DELETE": "PutLifecycleConfiguration"},
    "encryption": {"GET": "GetEncryptionConfiguration", "PUT": "PutEncryptionConfiguration"}
    | {"DELETE": "PutEncryptionConfiguration"},
    "tagging": {"GET": "GetBucketTagging", "PUT": "PutBucketTagging"}
    | {"DELETE": "PutBucketTagging"},
    "publicAccessBlock": {"GET": "GetBucketPublicAccessBlock"}
    | {"PUT": "PutBucketPublicAccessBlock", "DELETE": "PutBucketPublicAccessBlock"},
    "ownershipControls": {"GET": "GetBucketOwnershipControls"}
    | {"PUT": "PutBucketOwnershipControls", "DELETE": "PutBucketOwnershipControls"},
    "replication": {"GET": "GetReplicationConfiguration", "PUT": "PutReplicationConfiguration"},
    "requestPayment": {"GET": "GetBucketRequestPayment", "PUT": "PutBucketRequestPayment"},
    "accelerate": {"GET": "GetAccelerateConfiguration", "PUT": "PutAccelerateConfiguration"},
    "object-lock": {"GET": "GetBucketObjectLockConfiguration"}
    | {"PUT": "PutBucketObjectLockConfiguration"},
    "notification": {"GET": "GetBucketNotification", "PUT": "PutBucketNotification"},
    "location": {"GET": "GetBucketLocation"},
    "policyStatus": {"GET": "GetBucketPolicyStatus"},
    "versions": {"GET": "ListBucketVersions", "HEAD": "ListBucketVersions"},
    "uploads": {"GET": "ListBucketMultipartUploads"},
    "delete": {"POST": "DeleteObject"},  # DeleteObjects: s3:DeleteObject on each key
}


def _s3_operator_action(method: str, key: str, query: list[str]) -> str:
    """The IAM action of an S3 request the operator recording describes (method, key, the
    query's parameter names); one not known here is left for the check to refuse. `x-id` (the
    operation's name, which the Go SDK adds) is not a subresource."""
    query = [name for name in query if name != "x-id"]
    if key:
        if "tagging" in query:
            return {"GET": "GetObjectTagging", "PUT": "PutObjectTagging"}.get(method, method)
        if method == "DELETE" and "versionId" in query:
            return "DeleteObjectVersion"
        if method in {"GET", "HEAD"} and "versionId" in query:
            return "GetObjectVersion"
        return _s3_operation(method, True, {name: [""] for name in query})
    named = [name for name in query if name in S3_SUBRESOURCES]
    if named:
        return S3_SUBRESOURCES[named[0]].get(method, f"{method} bucket?{named[0]}")
    if method == "PUT" and not query:
        return "CreateBucket"
    if method == "DELETE" and not query:
        return "DeleteBucket"
    return _s3_operation(method, False, {name: [""] for name in query})


# REST services whose operator lines ("<METHOD> <path>") are named here by botocore's model.
REST_SERVICES = {"route53"}


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, operation) of each operation of `service`, from the requestUri
    templates of botocore's shipped model: "{Id}" captures one segment, "{Key+}" the rest."""
    loader = botocore.session.get_session().get_component("data_loader")
    routes = []
    for name, operation in loader.load_service_model(service, "service-2")["operations"].items():
        uri = operation["http"]["requestUri"].split("?")[0].rstrip("/")
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(uri))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        routes.append((operation["http"]["method"], re.compile(pattern), name))
    # The longest template first: /hostedzone/{Id}/rrset before /hostedzone/{Id}.
    return sorted(routes, key=lambda route: -len(route[1].pattern))


def _rest_operation(service: str, action: str) -> tuple[str, dict[str, Any]]:
    """A REST line's operation and the path's named segments (Id, ResourceId, ...); the line
    as it was when the model knows no such request."""
    method, _, path = action.partition(" ")
    for wanted, pattern, name in _rest_routes(service):
        if method == wanted and (matched := pattern.fullmatch(path.rstrip("/"))):
            return name, {k: unquote(v) for k, v in matched.groupdict().items()}
    return action, {}


def operator_call(line: dict[str, Any]) -> Call:
    """A line of the operator recording (bootstrap_local/operator_calls.py) as a Call by
    "operator"; an S3 line's method and query become its IAM action."""
    service, action, params = str(line["service"]), str(line["action"]), dict(line["params"])
    if service == "s3":
        query = list(params.pop("query", []))
        if not params.get("Bucket"):  # GET / : the account's buckets (the teardown receipt)
            return Call(OPERATOR, str(line["region"]), service, "ListAllMyBuckets", params)
        action = _s3_operator_action(action, str(params.get("Key") or ""), query)
    elif service in REST_SERVICES and " " in action:
        action, named = _rest_operation(service, action)
        params |= named
    return Call(OPERATOR, str(line["region"]), service, action, params)


def operator_calls(path: Path, start: int = 0) -> list[Call]:
    """The operator's calls recorded in `path` from byte `start` on."""
    if not path.exists():
        return []
    with path.open() as recorded:
        recorded.seek(start)
        lines = [json.loads(line) for line in recorded if line.strip()]
    return [operator_call(line) for line in lines]


def start_recording(endpoint: str) -> None:
    httpx.post(f"{endpoint}/moto-api/recorder/reset-recording", timeout=10).raise_for_status()
    httpx.post(f"{endpoint}/moto-api/recorder/start-recording", timeout=10).raise_for_status()


def recorded_calls(endpoint: str) -> list[Call]:
    response = httpx.get(f"{endpoint}/moto-api/recorder/download-recording", timeout=30)
    response.raise_for_status()
    entries = (json.loads(line) for line in response.text.splitlines() if line.strip())
    return [call for call in map(parse_entry, entries) if call is not None]


def calls_by_role(calls: list[Call], ledger: dict[str, dict[str, str]]) -> dict[str, list[Call]]:
    """Role ARN -> the calls signed with a key issued for it; other keys under "(unassumed)"."""
    grouped: dict[str, list[Call]] = {}
    for call in calls:
        role = ledger.get(call.key_id, {}).get("role", "(unassumed)")
        grouped.setdefault(role, []).append(call)
    return grouped


@dataclass(frozen=True)
class Scope:
    """Where a call is made: the ARN prefix of its service in its region and account."""

    call: Call
    account: str

    def arn(self, service: str, resource: str, region: str | None = None) -> str:
        where = self.call.region if region is None else region
        return f"arn:aws:{service}:{where}:{self.account}:{resource}"

    @property
    def cluster(self) -> str:
        """ECS's `cluster` parameter as an ARN (a name, an ARN or, when absent, "default")."""
        given = str(self.call.params.get("cluster") or "default")
        return given if given.startswith("arn:") else self.arn("ecs", f"cluster/{given}")

    def task(self, given: str) -> str:
        if given.startswith("arn:"):
            return given
        return self.arn("ecs", f"task/{self.cluster.rsplit('/', 1)[-1]}/{given}")

    def task_definition(self, given: str) -> str:
        """A family, family:revision or ARN. Before registration the revision is not known,
        and RunTask by family takes the newest: any revision of the family."""
        if given.startswith("arn:"):
            return given
        return self.arn("ecs", f"task-definition/{given if ':' in given else given + ':*'}")

    def log_group(self) -> str:
        params = self.call.params
        name = params.get("logGroupName") or params.get("logGroupIdentifier")
        return self.arn("logs", f"log-group:{name}")

    def log_stream(self) -> str:
        return f"{self.log_group()}:log-stream:{self.call.params['logStreamName']}"

    def s3_object(self) -> str:
        return f"arn:aws:s3:::{self.call.params['Bucket']}/{self.call.params['Key']}"

    def queue(self) -> str:
        """An SQS queue's ARN from its URL (…/<account>/<name>) or GetQueueUrl's name."""
        params = self.call.params
        if "QueueUrl" in params:
            owner, name = str(params["QueueUrl"]).rstrip("/").split("/")[-2:]
        else:
            owner, name = params.get("QueueOwnerAWSAccountId", self.account), params["QueueName"]
        return f"arn:aws:sqs:{self.call.region}:{owner}:{name}"


Addressed = list[tuple[str, dict[str, str]]]  # (resource, condition keys) per IAM request


def _ecs_task_requests(scope: Scope, tasks: list[str]) -> Addressed:
    return [(scope.task(task), {"ecs:cluster": scope.cluster}) for task in tasks]


# The resources each operation addresses, with the condition keys IAM adds for them (IAM's
# Service Authorization Reference). An operation not listed here fails the check: a new kind
# of call is looked at, not passed.
RESOURCES: dict[str, Callable[[Scope], Addressed]] = {
    "ecs:RegisterTaskDefinition": lambda s: [(s.task_definition(str(s.call.params["family"])), {})],
    "ecs:RunTask": lambda s: [
        (s.task_definition(str(s.call.params["taskDefinition"])), {"ecs:cluster": s.cluster})
    ],
    "ecs:DescribeTasks": lambda s: _ecs_task_requests(s, list(s.call.params["tasks"])),
    "ecs:StopTask": lambda s: _ecs_task_requests(s, [str(s.call.params["task"])]),
    "ecs:DescribeClusters": lambda s: [
        (c if c.startswith("arn:") else s.arn("ecs", f"cluster/{c}"), {})
        for c in s.call.params.get("clusters") or ["default"]
    ],
    "ecs:TagResource": lambda s: [(str(s.call.params["resourceArn"]), {})],
    # No resource-level permissions: IAM evaluates these against "*".
    "ecs:DescribeTaskDefinition": lambda _: [("*", {})],
    "ecs:DeregisterTaskDefinition": lambda _: [("*", {})],
    "ecs:ListTaskDefinitions": lambda _: [("*", {})],
    "ec2:DescribeVpcs": lambda _: [("*", {})],
    "ec2:DescribeSubnets": lambda _: [("*", {})],
    "ec2:DescribeSecurityGroups": lambda _: [("*", {})],
    "ecr:GetAuthorizationToken": lambda _: [("*", {})],
    # The registry's requests (docker pull and push), as tests/support/registry_calls.py names
    # them: each on the repository it addresses.
    **{
        f"ecr:{action}": lambda s: [
            (s.arn("ecr", f"repository/{s.call.params['repositoryName']}"), {})
        ]
        for action in (
            "BatchGetImage",
            "GetDownloadUrlForLayer",
            "BatchCheckLayerAvailability",
            "InitiateLayerUpload",
            "UploadLayerPart",
            "CompleteLayerUpload",
            "PutImage",
        )
    },
    "secretsmanager:GetSecretValue": lambda s: [(str(s.call.params["SecretId"]), {})],
    "logs:CreateLogGroup": lambda s: [(s.log_group(), {})],
    "logs:DescribeLogStreams": lambda s: [(s.log_group(), {})],
    "logs:CreateLogStream": lambda s: [(s.log_stream(), {})],
    "logs:PutLogEvents": lambda s: [(s.log_stream(), {})],
    "logs:GetLogEvents": lambda s: [(s.log_stream(), {})],
    "sqs:GetQueueUrl": lambda s: [(s.queue(), {})],
    "sqs:ReceiveMessage": lambda s: [(s.queue(), {})],
    "sqs:DeleteMessage": lambda s: [(s.queue(), {})],
    "sqs:ChangeMessageVisibility": lambda s: [(s.queue(), {})],
    "sqs:GetQueueAttributes": lambda s: [(s.queue(), {})],
    "s3:ListBucket": lambda s: [(f"arn:aws:s3:::{s.call.params['Bucket']}", {})],
    "s3:GetObject": lambda s: [(s.s3_object(), {})],
    "s3:PutObject": lambda s: [(s.s3_object(), {})],
    "s3:DeleteObject": lambda s: [(s.s3_object(), {})],
    "s3:AbortMultipartUpload": lambda s: [(s.s3_object(), {})],
}
# Operations IAM never denies (no permission exists for them).
UNAUTHORIZED = {"sts:GetCallerIdentity"}
PASSED_TO = "ecs-tasks.amazonaws.com"


def _implied(call: Call, scope: Scope) -> list[Request]:
    """What IAM also authorizes for a call: roles it passes to ECS tasks (iam:PassRole), and
    tags it puts on what it creates (ecs:TagResource, tag-on-create)."""
    params = call.params
    roles = [params.get("taskRoleArn"), params.get("executionRoleArn")]
    overrides = params.get("overrides") or {}
    roles += [overrides.get("taskRoleArn"), overrides.get("executionRoleArn")]
    implied = [
        Request("iam:PassRole", str(role), {"iam:PassedToService": PASSED_TO})
        for role in dict.fromkeys(roles)
        if role
    ]
    if params.get("tags") and call.iam_action in {"ecs:RegisterTaskDefinition", "ecs:RunTask"}:
        if call.iam_action == "ecs:RunTask":
            created = scope.arn("ecs", f"task/{scope.cluster.rsplit('/', 1)[-1]}/*")
        else:
            created = scope.task_definition(str(params["family"]))
        context = {"ecs:CreateAction": call.action, "aws:RequestedRegion": call.region}
        implied.append(Request("ecs:TagResource", created, context))
    return implied


def requests_of(call: Call, account: str) -> list[Request]:
    """What IAM evaluates for `call`: one request per resource it addresses (action, resource
    and the condition keys our policies use), then the ones it implies (see `_implied`)."""
    if call.iam_action in UNAUTHORIZED:
        return []
    if call.iam_action not in RESOURCES:
        raise KeyError(f"no resource mapping for {call.iam_action} in tests/support/aws_calls.py")
    scope = Scope(call, account)
    region = {"aws:RequestedRegion": call.region}
    addressed = [
        Request(call.iam_action, resource, {**region, **keys})
        for resource, keys in RESOURCES[call.iam_action](scope)
    ]
    return addressed + _implied(call, scope)


def request_of(call: Call, account: str) -> Request:
    """The first request `requests_of` gives: the call's own action on its first resource."""
    return requests_of(call, account)[0]
