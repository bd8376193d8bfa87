"""The values of a container's `secrets`, read from Secrets Manager or SSM as the ECS agent does.

A secret that cannot be read fails the task's launch; the reason names the secret and the
error's type, never its value.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_local.ecs_runtime.clients import AwsClients, error_code
from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.spec import SecretRef, parse_value_from


class SecretResolver:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def resolve(self, container: dict[str, Any]) -> dict[str, str]:
        """Environment variable name -> value for each of the container definition's secrets."""
        return {
            item["name"]: self.value(str(item["valueFrom"]))
            for item in container.get("secrets") or []
        }

    def value(self, value_from: str) -> str:
        ref = parse_value_from(value_from)
        try:
            return self._read(ref)
        except (ClientError, BotoCoreError, KeyError, ValueError, TypeError) as exc:
            # from None: the cause can hold the value (a JSONDecodeError keeps the whole secret
            # string in `.doc`), and a traceback or error reporter would show it.
            raise LaunchError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                f"retrieving {ref.name}"
                + (f" key {ref.json_key}" if ref.json_key else "")
                + f" failed: {error_code(exc)}"
            ) from None

    def _read(self, ref: SecretRef) -> str:
        if ref.service == "ssm":
            parameter = self.clients.get("ssm", ref.region).get_parameter(
                Name=ref.name, WithDecryption=True
            )
            return str(parameter["Parameter"]["Value"])
        kwargs: dict[str, str] = {"SecretId": ref.name}
        if ref.version_stage:
            kwargs["VersionStage"] = ref.version_stage
        if ref.version_id:
            kwargs["VersionId"] = ref.version_id
        secret = self.clients.get("secretsmanager", ref.region).get_secret_value(**kwargs)
        value = secret.get("SecretString")
        if value is None:
            value = base64.b64encode(secret["SecretBinary"]).decode()
        if ref.json_key is None:
            return str(value)
        picked = json.loads(value)[ref.json_key]
        return picked if isinstance(picked, str) else json.dumps(picked)
