"""A container registry's requests, read from the local registry's log (Debian's
`docker-registry`, distribution 2.8, log level info), as the ECR actions IAM authorizes them
as: on AWS each request of `docker pull` / `docker push` to ECR is evaluated as one ECR action
on the repository it addresses (ECR User Guide, "Amazon ECR registry permissions"; mounting a
blob from another repository needs `ecr:GetDownloadUrlForLayer` on that one, "Blob mounting in
Amazon ECR"). The local registry is no ECR, so these are the calls to check a role's ECR
grants against: the emulator never sees them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support.aws_calls import Call

FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')
ROUTE = re.compile(
    r"^/v2/(?P<name>.+?)/(?:manifests/(?P<reference>[^/]+)"
    r"|blobs/uploads/(?P<upload>[^/]*)|blobs/(?P<digest>[a-z0-9]+:[a-f0-9]+))$"
)
# (what the path addresses, method) -> the ECR action.
ACTIONS = {
    ("manifest", "GET"): "BatchGetImage",
    ("manifest", "HEAD"): "BatchGetImage",
    ("manifest", "PUT"): "PutImage",
    ("manifest", "DELETE"): "BatchDeleteImage",
    ("blob", "GET"): "GetDownloadUrlForLayer",
    ("blob", "HEAD"): "BatchCheckLayerAvailability",
    ("upload", "POST"): "InitiateLayerUpload",
    ("upload", "PATCH"): "UploadLayerPart",
    ("upload", "PUT"): "CompleteLayerUpload",
}
# The clients that are not a workflow's docker CLI: bootstrap's image stage and the local ECS
# runtime (the Docker SDK), and the tests' own reads (httpx).
NOT_THE_CLI = ("docker-sdk-python", "python-httpx", "python-requests")


def _fields(line: str) -> dict[str, str]:
    return {key: value.strip('"') for key, value in FIELD.findall(line)}


def calls(
    line_fields: dict[str, str], region: str, keep: Callable[[str], bool] | None = None
) -> list[Call]:
    """The ECR calls one logged response stands for: none for the version check (`GET /v2/`),
    an unauthenticated try (401, which docker sends first) or another client's request."""
    agent = line_fields.get("http.request.useragent", "")
    if line_fields.get("http.response.status") == "401":
        return []
    if not (keep(agent) if keep else not any(word in agent for word in NOT_THE_CLI)):
        return []
    method = line_fields.get("http.request.method", "")
    parts = urlsplit(line_fields.get("http.request.uri", ""))
    if parts.path in ("/v2/", "/v2"):
        return []
    route = ROUTE.match(parts.path)
    if route is None:
        # Not a route `docker pull` / `push` uses: named as it is, so the check refuses it.
        return [Call("", region, "ecr", f"{method} {parts.path}")]
    kind = "manifest" if route["reference"] else "upload" if route["upload"] is not None else "blob"
    action = ACTIONS.get((kind, method), f"{method} {kind}")
    found = [Call("", region, "ecr", action, {"repositoryName": route["name"]})]
    query = parse_qs(parts.query)
    if kind == "upload" and method == "POST" and "from" in query:
        # A cross-repository mount: the layer is read from the repository it names.
        source = {"repositoryName": query["from"][0]}
        found.append(Call("", region, "ecr", "GetDownloadUrlForLayer", source))
    return found


def registry_calls(log: Path, start: int, end: int, region: str) -> list[Call]:
    """The ECR calls of the docker CLI's requests logged between byte offsets start and end."""
    with log.open("rb") as read:
        read.seek(start)
        text = read.read(max(0, end - start)).decode(errors="replace")
    found: list[Call] = []
    for line in text.splitlines():
        if 'msg="response completed' in line:
            found += calls(_fields(line), region)
    return found
