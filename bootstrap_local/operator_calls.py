"""The operator's AWS calls as one line each, with the names of what they address and nothing
else: what `--record-operator-calls` writes (bootstrap_local/moto_server.py).

The operator's requests (Terraform, the flows, the CLI) carry secret values in their bodies
(PutSecretValue's SecretString, RDS passwords, tag and parameter values), so the request is
never written: only its service, operation, region and the parameters whose *name* says they
name a resource (…Name, …Arn, …Id, …Url, family, cluster, …), and only when their value is a
string or a list of strings. Any other parameter is dropped, whatever it holds.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
# Case-sensitive on purpose: "Username"/"MasterUsername" do not end in "Name".
NAMING = re.compile(
    r"^(?:\w*[a-z])?(?:Name|Names|Arn|Arns|ARN|Id|Ids|Identifier|Identifiers|Url|Prefix)$"
)
NAMING_EXACT = frozenset(
    {"family", "cluster", "clusters", "service", "services", "task", "tasks", "taskDefinition"}
    | {"Rule"}
)
# A flattened query parameter's list and map markers (SubnetIds.member.1).
FLATTENING = re.compile(r"^(?:member|entry|item|\d+)$")


def _names_a_resource(parameter: str) -> bool:
    named = [part for part in parameter.split(".") if not FLATTENING.match(part)]
    return bool(named) and all(p in NAMING_EXACT or NAMING.match(p) for p in named)


def _kept(params: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in params.items():
        if not _names_a_resource(name):
            continue
        if isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            kept[name] = value
    return kept


def _s3_params(url: str) -> dict[str, Any]:
    """Path-style S3 (how clients address a loopback endpoint): bucket, key, the query's
    parameter names (they name the operation: ?versioning, ?policy, ?uploadId)."""
    parts = urlsplit(url)
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    query = sorted(parse_qs(parts.query, keep_blank_values=True))
    return {"Bucket": bucket, "Key": key, "query": query}


def entry(headers: dict[str, str], method: str, url: str, body: bytes) -> dict[str, Any] | None:
    """The line for one request, or None for one not signed with SigV4 (moto's own API)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signed = CREDENTIAL.search(lowered.get("authorization", ""))
    if signed is None:
        return None
    key_id, region, service = signed.groups()
    line: dict[str, Any] = {"key": key_id, "region": region, "service": service}
    if service == "s3":
        return line | {"action": method, "params": _s3_params(url)}
    text = body.decode(errors="replace")
    target = lowered.get("x-amz-target")
    if target:  # JSON protocols: the operation is the target's last part, the body its input
        try:
            params = json.loads(text) if text.strip() else {}
        except ValueError:
            params = {}
        given = params if isinstance(params, dict) else {}
        return line | {"action": target.rsplit(".", 1)[-1], "params": _kept(given)}
    form = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    if "form-urlencoded" in lowered.get("content-type", ""):
        form |= {name: values[0] for name, values in parse_qs(text).items()}
    action = form.pop("Action", None)
    if action is None:  # a REST operation of another service: its method and path name it
        return line | {"action": f"{method} {urlsplit(url).path}", "params": {}}
    return line | {"action": action, "params": _kept(form)}
