"""boto3 clients built from settings and the target, so every stage talks to the same AWS."""

from __future__ import annotations

import base64
import logging
from typing import Any, NamedTuple
from urllib.parse import urlparse

import boto3

from bootstrap_flows.settings import BootstrapSettings
from bootstrap_flows.target import resolve


class _RedactSecrets(logging.Filter):
    """botocore logs whole response bodies at DEBUG: ECR tokens and secret values included."""

    MARKERS = ("authorizationToken", "SecretString", "SecretBinary", '"Parameter"')

    def filter(self, record: logging.LogRecord) -> bool:
        if any(marker in record.getMessage() for marker in self.MARKERS):
            record.msg = "Response body: <redacted: it holds a token or secret value>"
            record.args = ()
        return True


def redact_secrets() -> None:
    """Install the filter once; every client made here (and so every stage) is covered."""
    parsers = logging.getLogger("botocore.parsers")
    if not any(isinstance(existing, _RedactSecrets) for existing in parsers.filters):
        parsers.addFilter(_RedactSecrets())


redact_secrets()


def aws_environment(settings: BootstrapSettings) -> dict[str, str]:
    """Environment variables that point a child process (terraform, a worker) at our AWS."""
    target = resolve(settings)
    env = {"AWS_REGION": settings.aws_region, "AWS_DEFAULT_REGION": settings.aws_region}
    if target.endpoint_url:
        env["AWS_ENDPOINT_URL"] = target.endpoint_url
    return env | target.aws_env


def client(settings: BootstrapSettings, service: str, **kwargs: Any) -> Any:
    """A boto3 client for `service` in the configured region, at the target's endpoint."""
    target = resolve(settings)
    if target.endpoint_url:
        kwargs.setdefault("endpoint_url", target.endpoint_url)
    if "AWS_ACCESS_KEY_ID" in target.aws_env:
        kwargs.setdefault("aws_access_key_id", target.aws_env["AWS_ACCESS_KEY_ID"])
        kwargs.setdefault("aws_secret_access_key", target.aws_env["AWS_SECRET_ACCESS_KEY"])
    return boto3.session.Session().client(service, region_name=settings.aws_region, **kwargs)


class RegistryLogin(NamedTuple):
    """What ECR's authorization token decodes to; the password never goes on a command line."""

    user: str
    password: str
    host: str


def ecr_login(ecr: Any) -> RegistryLogin:
    """Decode ECR's authorization token (base64 of `user:password`) and its registry host."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return RegistryLogin(user, password, urlparse(str(data.get("proxyEndpoint", ""))).netloc)
