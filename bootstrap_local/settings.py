"""The embedded default's own settings: where its services listen and where it keeps its files.

`BOOTSTRAP_LOCAL_*` variables, then the generic env file (`.env` or `BOOTSTRAP_ENV_FILE`), then
the defaults. The product's settings never read these: they say nothing about AWS.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bootstrap_flows.config.settings import PROJECT_ROOT, SETTINGS_HEADER, SettingsError, describe

PREFIX = "BOOTSTRAP_LOCAL_"
PORTS = ("moto", "prefect", "registry", "postgres", "server", "dns")


class LocalSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=os.environ.get("BOOTSTRAP_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        # The generic env file holds the product's settings too: they are not ours to refuse.
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    state_dir: Path = Field(
        PROJECT_ROOT / ".bootstrap-local",
        description="Where the local stack keeps PIDs, logs, databases and its registry.",
    )
    moto_port: int = Field(4566, ge=1024, le=65535, description="Port of emulated AWS.")
    prefect_port: int = Field(
        4200, ge=1024, le=65535, description="Port of the local Prefect server."
    )
    registry_port: int = Field(
        5000, ge=1024, le=65535, description="Port of the local registry standing in for ECR."
    )
    postgres_port: int = Field(
        15432,
        ge=1024,
        le=65535,
        description="Port of the local PostgreSQL standing in for the server stack's RDS.",
    )
    server_port: int = Field(
        4300,
        ge=1024,
        le=65535,
        description="Port the server stack's Prefect server task listens on locally (it shares "
        "the host's network, so not the local Prefect server's port).",
    )
    dns_port: int = Field(
        10053,
        ge=1024,
        le=65535,
        description="UDP port of the DNS responder that answers, beside emulated AWS, the NS "
        "records public DNS would give for its Route 53 zones (the delegation check asks it).",
    )
    iam_propagation_seconds: float = Field(
        5.0,
        ge=0,
        le=600,
        description="How long a new IAM role stays unassumable by the local ECS runtime, as IAM's "
        "eventual consistency makes it on AWS (which states no figure: usually seconds).",
    )

    @model_validator(mode="after")
    def _ports_differ(self) -> LocalSettings:
        """The services share this machine: two on one port cannot both start."""
        taken: dict[int, str] = {}
        for service in PORTS:
            name = f"{service}_port"
            port = int(getattr(self, name))
            if port in taken:
                raise ValueError(
                    f"{taken[port]} and {name} are both {port}: each local service needs a port "
                    f"of its own; set {PREFIX}{name.upper()} to another"
                )
            taken[port] = name
        return self

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    def environment(self) -> dict[str, str]:
        """These settings as the variables a child process reads them from."""
        return {
            f"{PREFIX}STATE_DIR": str(self.state_dir),
            **{f"{PREFIX}{service.upper()}_PORT": str(self.port(service)) for service in PORTS},
        }

    def port(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))


def load_local_settings(**overrides: object) -> LocalSettings:
    """The embedded default's settings; raise SettingsError, one line a setting, if invalid."""
    try:
        return LocalSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = "\n".join(describe(dict(error), PREFIX) for error in exc.errors())
        # Not `from exc`, as the product's settings: pydantic's error repeats each input.
        raise SettingsError(f"{SETTINGS_HEADER}\n{lines}") from None
