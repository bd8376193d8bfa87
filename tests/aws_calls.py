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
from typing import Any
from urllib.parse import parse_qs

import httpx

from tests.iam_eval import Request

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
    body = _body(entry)
    target = headers.get("x-amz-target")
    if target:  # JSON protocols: the operation is the target's last part, the body its input
        params = json.loads(body) if body.strip() else {}
        return Call(key_id, region, service, target.rsplit(".", 1)[-1], params)
    form = {name: values[0] for name, values in parse_qs(body).items()}
    if "Action" in form:  # query protocols (STS, SQS's older form, IAM, EC2)
        return Call(key_id, region, service, form.pop("Action"), form)
    return Call(key_id, region, service, f"{entry.get('method')} {entry.get('url')}")


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


def _logs_arn(call: Call, account: str) -> str:
    group = f"arn:aws:logs:{call.region}:{account}:log-group:{call.params['logGroupName']}"
    stream = call.params.get("logStreamName")
    return f"{group}:log-stream:{stream}" if stream else group


# The resource each recorded operation addresses (IAM's Service Authorization Reference); an
# operation not listed here fails the check, so a new kind of call is looked at, not passed.
RESOURCES: dict[str, Callable[[Call, str], str]] = {
    "secretsmanager:GetSecretValue": lambda call, _: str(call.params["SecretId"]),
    "logs:CreateLogStream": _logs_arn,
    "logs:PutLogEvents": _logs_arn,
    "logs:CreateLogGroup": _logs_arn,
    "ecr:GetAuthorizationToken": lambda call, _: "*",
}


def request_of(call: Call, account: str) -> Request:
    """What IAM evaluates for `call`: action, resource and the global keys our policies use."""
    if call.iam_action not in RESOURCES:
        raise KeyError(f"no resource mapping for {call.iam_action} in tests/aws_calls.py")
    resource = RESOURCES[call.iam_action](call, account)
    return Request(call.iam_action, resource, {"aws:RequestedRegion": call.region})
