"""The registry log's requests as ECR actions (tests/support/registry_calls.py), on lines of a
real distribution 2.8 log."""

from __future__ import annotations

from pathlib import Path

from tests.support.registry_calls import registry_calls

CLI = "docker/20.10.24+dfsg1 go/go1.19.8 UpstreamClient(Docker-Client/20.10.24+dfsg1 \\(linux\\))"
SDK = "docker/20.10.24+dfsg1 go/go1.19.8 UpstreamClient(docker-sdk-python/7.1.0)"


def line(method: str, uri: str, status: int = 200, agent: str = CLI) -> str:
    return (
        'time="2026-12-06T22:49:46.97Z" level=info msg="response completed" '
        f'http.request.host="127.0.0.1:55471" http.request.method={method} '
        f'http.request.uri="{uri}" http.request.useragent="{agent}" '
        f"http.response.status={status} http.response.written=2"
    )


def test_each_request_is_the_ecr_action_iam_authorizes_it_as(tmp_path: Path) -> None:
    blob = "sha256:" + "a" * 64
    log = tmp_path / "registry.log"
    lines = [
        line("GET", "/v2/"),
        line("HEAD", f"/v2/prefect-prom-worker/blobs/{blob}", 401),  # before the credentials
        line("HEAD", "/v2/prefect-prom-worker/manifests/flows-1", 404),
        line("GET", f"/v2/prefect-local-worker/manifests/{blob}"),
        line("GET", f"/v2/prefect-local-worker/blobs/{blob}"),
        line("HEAD", f"/v2/prefect-prom-worker/blobs/{blob}", 404),
        line("POST", "/v2/prefect-prom-worker/blobs/uploads/?from=prefect-local-worker&mount=x"),
        line("PATCH", "/v2/prefect-prom-worker/blobs/uploads/d8ec?_state=x"),
        line("PUT", f"/v2/prefect-prom-worker/blobs/uploads/d8ec?_state=x&digest={blob}"),
        line("PUT", "/v2/prefect-prom-worker/manifests/flows-1"),
        line("GET", f"/v2/prefect-prom-worker/manifests/{blob}", agent=SDK),  # the ECS runtime
        line("GET", "/v2/_catalog"),
    ]
    log.write_text("\n".join(lines) + "\n")
    found = registry_calls(log, 0, log.stat().st_size, "us-east-1")
    assert [(c.action, c.params.get("repositoryName")) for c in found] == [
        ("BatchGetImage", "prefect-prom-worker"),
        ("BatchGetImage", "prefect-local-worker"),
        ("GetDownloadUrlForLayer", "prefect-local-worker"),
        ("BatchCheckLayerAvailability", "prefect-prom-worker"),
        ("InitiateLayerUpload", "prefect-prom-worker"),
        ("GetDownloadUrlForLayer", "prefect-local-worker"),  # the mount's source
        ("UploadLayerPart", "prefect-prom-worker"),
        ("CompleteLayerUpload", "prefect-prom-worker"),
        ("PutImage", "prefect-prom-worker"),
        ("GET /v2/_catalog", None),  # not docker's: left for the check to refuse
    ]
    # A window of the log: only its requests.
    first = len(lines[0]) + 1
    assert registry_calls(log, 0, first, "us-east-1") == []
