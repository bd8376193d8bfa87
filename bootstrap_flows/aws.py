"""boto3 clients built from settings, so every stage talks to the same account and endpoint."""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3

from bootstrap_flows.settings import BootstrapSettings


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

# moto accepts any credentials; these are what the embedded default hands to every process.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def aws_environment(settings: BootstrapSettings) -> dict[str, str]:
    """Environment variables that point a child process (terraform, a worker) at our AWS."""
    env = {"AWS_REGION": settings.aws_region, "AWS_DEFAULT_REGION": settings.aws_region}
    endpoint = settings.effective_aws_endpoint_url
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        for name, value in EMULATOR_CREDENTIALS.items():
            env[name] = os.environ.get(name, value)
    return env


def client(settings: BootstrapSettings, service: str, **kwargs: Any) -> Any:
    """A boto3 client for `service` in the configured region, at the emulator when local."""
    endpoint = settings.effective_aws_endpoint_url
    if endpoint:
        kwargs.setdefault("endpoint_url", endpoint)
        kwargs.setdefault("aws_access_key_id", os.environ.get("AWS_ACCESS_KEY_ID", "testing"))
        kwargs.setdefault(
            "aws_secret_access_key", os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")
        )
    return boto3.session.Session().client(service, region_name=settings.aws_region, **kwargs)
