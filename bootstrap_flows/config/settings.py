"""One settings model for every stage: the groups of `groups`, read together.

Sources, strongest first: flow parameters (``overrides``), ``BOOTSTRAP_*`` environment variables,
the environment's own file (``environments/<env>.env``, or ``BOOTSTRAP_ENVIRONMENTS_DIR``), the
generic env file (``.env`` or ``BOOTSTRAP_ENV_FILE``), then the defaults (in `groups`). A bad
value stops the run with one readable message naming the setting, before anything talks to AWS.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import (
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bootstrap_flows.config import environments, names, validation
from bootstrap_flows.config.alerts import Alerts
from bootstrap_flows.config.ci import Ci

# Re-exported: the names every module takes from settings.
from bootstrap_flows.config.environments import AWS as AWS
from bootstrap_flows.config.environments import EMULATOR as EMULATOR
from bootstrap_flows.config.environments import ENV_PREFIX as ENV_PREFIX
from bootstrap_flows.config.environments import LOCAL as LOCAL
from bootstrap_flows.config.environments import PROJECT_ROOT as PROJECT_ROOT
from bootstrap_flows.config.environments import (
    default_target,
)
from bootstrap_flows.config.groups import (
    Approval,
    Drift,
    Image,
    Network,
    Server,
    Terraform,
    Where,
    Worker,
    WorkerPrefect,
    check_url,
)
from bootstrap_flows.errors import BootstrapError

SETTINGS_HEADER = "Invalid settings; nothing was changed:"
# Variables of the embedded default (`bootstrap_local.settings`), which may share the env files.
PLUGIN_PREFIX = f"{ENV_PREFIX}LOCAL_"


class SettingsError(BootstrapError, ValueError):
    """Raised when settings are invalid; the message names each bad setting and how to fix it."""


class _EnvFilesWithoutPlugins(PydanticBaseSettingsSource):
    """The env files' values, less those of `BOOTSTRAP_LOCAL_*`: the embedded default's own
    settings share the files (its package reads them) and are not the product's to refuse."""

    def __init__(self, files: PydanticBaseSettingsSource) -> None:
        super().__init__(files.settings_cls)
        self.files = files

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the files' source whole

    def __call__(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.files().items()
            if not name.upper().startswith(PLUGIN_PREFIX)
        }


class BootstrapSettings(
    Where,
    Network,
    Worker,
    WorkerPrefect,
    Server,
    Terraform,
    Image,
    Ci,
    Approval,
    Drift,
    Alerts,
    BaseSettings,
):
    """Every setting of a run: the groups (`groups`, `alerts`, `ci`) read as one flat set of
    names."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=os.environ.get(f"{ENV_PREFIX}ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
        # A run's settings are never changed in place: a change is a copy (`aimed_at`).
        frozen=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = _EnvFilesWithoutPlugins(dotenv_settings)
        return (init_settings, env_settings, files, file_secret_settings)

    # What a run derives from its settings once, not per call: the target they name (every AWS
    # client asks for it; a plugin's target may read files) and the AWS clients. A copy
    # (`model_copy`, `aimed_at`) starts without either.
    _target: Any = PrivateAttr(default=None)
    # The run's AWS clients, one per service and credentials (`aws_side.clients.client`).
    _clients: dict[Any, Any] = PrivateAttr(default_factory=dict)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        copy._target, copy._clients = None, {}
        return copy

    def __getstate__(self) -> dict[Any, Any]:
        # boto3 clients do not pickle, and Prefect pickles results that may hold settings.
        state = super().__getstate__()
        private = state.get("__pydantic_private__") or {}
        return {**state, "__pydantic_private__": {**private, "_clients": {}}}

    # --- checks across groups, once every group is valid ---------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """Defaults that depend on the environment: where AWS is, whether plans wait."""
        if not isinstance(data, dict):
            return data
        environment = str(data.get("environment") or LOCAL)
        derived = {
            "target": data.get("target") or default_target(environment),
            "require_approval": (
                data["require_approval"]
                if data.get("require_approval") is not None
                else environment.startswith("prod")
            ),
        }
        return {**data, **derived}

    @model_validator(mode="after")
    def _consistent(self) -> BootstrapSettings:
        if self.promote_from == self.environment:
            raise ValueError(
                f"promote_from: {self.environment!r} is this environment: name the one whose "
                "tested image it takes (e.g. BOOTSTRAP_PROMOTE_FROM=staging for prod)"
            )
        if self.target == AWS and self.aws_endpoint_url:
            raise ValueError(
                "aws_endpoint_url: an endpoint override needs an emulator target; unset "
                f"BOOTSTRAP_AWS_ENDPOINT_URL for {self.environment!r} or set BOOTSTRAP_TARGET"
            )
        # Every AWS name made from the prefix and environment, by AWS's rule for its kind.
        server = self.prefect_server == "aws"
        unfit = names.problem(
            self.name_prefix, self.environment, server=server, state_bucket=not self.state_bucket
        )
        if unfit:
            raise ValueError(unfit)
        if server:
            validation.server_stack(self)
        elif self.target == AWS:
            validation.external_prefect(self)
        return self

    # --- the worker's Prefect, moved by a run --------------------------------------------------
    def aimed_at(
        self, api_url: str | None = None, auth_string: SecretStr | None = None
    ) -> BootstrapSettings:
        """A copy whose worker talks to another Prefect (the server stack a run made, with its
        auth string): the URL and credential pass the checks given ones pass. The rule against
        prefect_api_url with prefect_server=aws is for what a person sets, not this."""
        update: dict[str, object] = {}
        if api_url is not None:
            update["prefect_api_url"] = _set_by_run("prefect_api_url", check_url, api_url)
        if auth_string is not None:
            update["prefect_api_auth_string"] = _set_by_run(
                "prefect_api_auth_string", validation.auth_string, auth_string
            )
        return self.model_copy(update=update)

    # --- derived values -------------------------------------------------------------------------
    @property
    def stack_name(self) -> str:
        """The `<prefix>-<env>` every resource name starts with."""
        return f"{self.name_prefix}-{self.environment}"

    @property
    def environment_dir(self) -> Path:
        """Per-environment working data (Terraform data dirs, plan files): never in the repo."""
        return self.work_dir / "environments" / self.environment

    def state_bucket_name(self, account_id: str) -> str:
        return self.state_bucket or names.derived("state bucket").name(
            self.name_prefix, self.environment, account_id
        )


def _set_by_run(name: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise SettingsError(f"{SETTINGS_HEADER}\n- {name} (set by this run): {exc}") from None


def describe(error: dict[str, Any], prefix: str = ENV_PREFIX) -> str:
    """One line of a settings error: the setting, its variable, what is wrong."""
    field = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not field:
        return f"- {message}"
    if error.get("type") == "extra_forbidden":
        return f"- {field}: unknown setting (check the spelling; see README, Configuration)"
    # Our own validators already quote the value; pydantic's type errors don't. Secrets never.
    secret = any(word in field for word in ("key", "auth", "secret"))
    shown = "" if secret or error.get("type") == "value_error" else f" (got {error.get('input')!r})"
    env_var = f"{prefix}{field.upper()}"
    return f"- {field} [{env_var}]: {message}{shown}"


def load_settings(**overrides: Any) -> BootstrapSettings:
    """Build settings from overrides, environment variables and env files (see the module's
    docstring for the order); raise SettingsError if invalid."""
    try:
        files = environments.env_files(overrides)
    except ValueError as exc:
        raise SettingsError(f"{SETTINGS_HEADER}\n- {exc}") from None
    try:
        return BootstrapSettings(_env_file=files, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = "\n".join(describe(dict(err)) for err in exc.errors())
        # Not `from exc`: pydantic's error repeats each input, and inputs can be secrets.
        raise SettingsError(f"{SETTINGS_HEADER}\n{lines}") from None
