"""The environment files: `environments/<env>.env`, one per environment, committed, no secrets.

Settings read the file of the environment a run is for between the `BOOTSTRAP_*` variables and
the generic env file (see `settings`). An environment is *configured* when its file exists and,
unless it runs on the emulator, names its AWS account: only configured environments get
deployments and a drift-check schedule (`registration`). Nothing here imports the settings model,
which reads these files while it loads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from bootstrap_flows.config import validation

ENV_PREFIX = "BOOTSTRAP_"
LOCAL = "local"
AWS = "aws"
EMULATOR = "emulator"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The flows baked into the worker image (the e2e test flows), in the checkout.
DEPLOYMENTS_DIR = PROJECT_ROOT / "deployments"
SUFFIX = ".env"
ENVIRONMENT_MAX = 16
# name_prefix's own limit: with the longest environment, every platform name fits AWS's rules
# (config/names.py checks each derived name; the server stack's 32-character names are tighter).
PREFIX_MAX = 20
NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
# Never in an environment file, a flow parameter or a log: they go to Secrets Manager only.
SECRET_FIELDS = frozenset({"prefect_api_key", "prefect_api_auth_string"})
# Where AWS is, for a target that is not the emulator: without it the file is only an example.
ACCOUNT_VARIABLE = f"{ENV_PREFIX}AWS_ACCOUNT_ID"


def is_environment_name(name: str) -> bool:
    return 2 <= len(name) <= ENVIRONMENT_MAX and bool(NAME.match(name))


def environments_dir() -> Path:
    """`environments/` in the checkout, or the directory `BOOTSTRAP_ENVIRONMENTS_DIR` names."""
    return Path(os.environ.get(f"{ENV_PREFIX}ENVIRONMENTS_DIR") or PROJECT_ROOT / "environments")


def environment_file(environment: str, directory: Path | None = None) -> Path:
    return (directory or environments_dir()) / f"{environment}{SUFFIX}"


def generic_env_file() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}ENV_FILE", ".env"))


def environment_name(overrides: dict[str, Any]) -> str:
    """Which environment a run is for: the parameter, the variable, the generic file, `local`."""
    if overrides.get("environment"):
        return str(overrides["environment"])
    if os.environ.get(f"{ENV_PREFIX}ENVIRONMENT"):
        return os.environ[f"{ENV_PREFIX}ENVIRONMENT"]
    generic = validation.env_file_values(generic_env_file())
    return generic.get(f"{ENV_PREFIX}ENVIRONMENT") or LOCAL


def env_files(overrides: dict[str, Any]) -> tuple[Path, ...]:
    """The env files settings read, weakest first; raises ValueError for a secret in the
    environment's own file."""
    name = environment_name(overrides)
    # A bad name is refused by the model; it must not pick a file (`../x`) before that.
    if not is_environment_name(name) or not environment_file(name).is_file():
        return (generic_env_file(),)
    validation.environment_file(environment_file(name), name, SECRET_FIELDS)
    return (generic_env_file(), environment_file(name))


def default_target(environment: str) -> str:
    return EMULATOR if environment == LOCAL else AWS


def is_configured(environment: str, directory: Path | None = None) -> bool:
    """Whether the environment has a file that says where AWS is: the emulator's (its target),
    or the account it lives in. Read from the file alone, so every machine agrees."""
    path = environment_file(environment, directory)
    if not path.is_file():
        return False
    values = validation.env_file_values(path)
    target = values.get(f"{ENV_PREFIX}TARGET") or default_target(environment)
    return target == EMULATOR or bool(values.get(ACCOUNT_VARIABLE))


def environment_names(directory: Path | None = None) -> list[str]:
    """Every environment that has a file, in name order."""
    folder = directory or environments_dir()
    return sorted(
        path.name.removesuffix(SUFFIX)
        for path in folder.glob(f"*{SUFFIX}")
        if is_environment_name(path.name.removesuffix(SUFFIX))
    )
