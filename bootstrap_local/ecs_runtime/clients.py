"""boto3 clients of the emulated AWS, one per service and region, made the way the runtime wants."""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings


class AwsClients:
    """Clients cached per (service, region): secrets and log groups may name another region."""

    def __init__(
        self, settings: BootstrapSettings, credentials: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        # boto3 keyword arguments (access key, secret, session token) of a role's credentials;
        # None: the emulator's own credentials, as the target gives them.
        self.credentials = dict(credentials or {})
        # Few retries and short timeouts: a pass that fails is simply repeated at the next poll.
        self._config = Config(
            retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=30
        )
        self._clients: dict[tuple[str, str], Any] = {}

    def get(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.settings.aws_region)
        if key not in self._clients:
            settings = self.settings
            if key[1] != settings.aws_region:
                settings = settings.model_copy(update={"aws_region": key[1]})
            self._clients[key] = aws.client(
                settings, service, config=self._config, **self.credentials
            )
        return self._clients[key]


def error_code(exc: Exception) -> str:
    """An AWS error's code (or the exception's type): what logs and stoppedReasons show."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
