"""Deployments come from the configured environments: `bootstrap/<env>`, `teardown/<env>` and
`drift-check/<env>` for each, and none for any other.

`prefect.yaml` declares each flow's deployment once, for `local`, so `prefect deploy --all` from
the checkout still registers the embedded default; here those three are templates. For every
configured environment (`environments.is_configured`) whose settings load on this machine, a copy
gets the environment's name, parameters, tags and drift-check schedule (`drift_schedule` from its
settings); `prefect deploy --all` registers them from a generated file in one call (Prefect's own
deployment code: pull step, schedules, pool). Deployments of these flows for environments that are
not configured (an old `prefect.yaml` registered `dev`'s) are then deleted: an environment nobody
configured must not fail every half hour in the UI.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bootstrap_flows.config import environments, names
from bootstrap_flows.config.settings import (
    PROJECT_ROOT,
    BootstrapSettings,
    SettingsError,
    load_settings,
)
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.errors import BootstrapError

FLOWS = ("bootstrap", "teardown", "drift-check")
TEMPLATE = environments.LOCAL
PREFECT_FILE = PROJECT_ROOT / "prefect.yaml"


class RegistrationError(BootstrapError):
    """The deployments cannot be registered; nothing was registered or deleted."""


@dataclass(frozen=True)
class Registered:
    environments: list[str]
    deployments: list[str]
    schedules: dict[str, str]  # drift-check/<env>: its cron
    removed: list[str]


def configured_settings() -> dict[str, BootstrapSettings]:
    """Settings of every configured environment; refuses one whose settings do not load here
    (its runs would fail) and two that would share one work pool."""
    loaded: dict[str, BootstrapSettings] = {}
    for name in environments.environment_names():
        if not environments.is_configured(name):
            continue
        try:
            loaded[name] = load_settings(environment=name)
        except SettingsError as exc:
            raise RegistrationError(
                f"environment {name!r} is configured ({environments.environment_file(name)}) "
                f"but its settings do not load on this machine, so its runs would fail; fix "
                f"them, or take BOOTSTRAP_AWS_ACCOUNT_ID out of its file:\n{exc}"
            ) from None
    pools: dict[tuple[str, str], str] = {}
    for name, settings in loaded.items():
        pool = (worker_api_url(resolve(settings)), settings.work_pool_name)
        if pool in pools:
            raise RegistrationError(
                f"environments {pools[pool]!r} and {name!r} both use work pool {pool[1]!r} on "
                f"{pool[0]}: each would rewrite the other's; set BOOTSTRAP_WORK_POOL_NAME in "
                f"{environments.environment_file(name)}"
            )
        pools[pool] = name
    _refuse_shared_names(loaded)
    return loaded


def _refuse_shared_names(loaded: Mapping[str, BootstrapSettings]) -> None:
    """Two environments of one account must not derive one AWS name (config/names.py)."""
    owners = {
        name: names.Owner(s.name_prefix, s.environment, s.prefect_server == "aws", s.aws_region)
        for name, s in loaded.items()
    }
    ordered = list(loaded)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if loaded[first].aws_account_id != loaded[second].aws_account_id:
                continue
            clash = names.clash(owners[first], owners[second])
            if clash:
                raise RegistrationError(f"{clash} ({environments.environment_file(second)})")


def _for_environment(template: Mapping[str, Any], settings: BootstrapSettings) -> dict[str, Any]:
    name = settings.environment
    deployment = copy.deepcopy(dict(template))
    deployment["name"] = name
    parameters = dict(deployment.get("parameters") or {})
    parameters["environment"] = name
    if "confirm" in parameters:
        # Only a disposable environment (an emulator's) tears down without approval.
        if resolve(settings).disposable:
            parameters["confirm"] = name
        else:
            del parameters["confirm"]
    deployment["parameters"] = parameters
    deployment["tags"] = [name if tag == TEMPLATE else tag for tag in deployment.get("tags", [])]
    if deployment.get("schedules"):
        deployment["schedules"] = [{"cron": settings.drift_schedule, "active": True}]
    return deployment


def prefect_file(configured: Mapping[str, BootstrapSettings]) -> dict[str, Any]:
    """prefect.yaml with its `local` templates copied for each configured environment."""
    project: dict[str, Any] = yaml.safe_load(PREFECT_FILE.read_text())
    templates = [d for d in project["deployments"] if d["name"] == TEMPLATE]
    if {str(d["entrypoint"]).rsplit(":", 1)[-1] for d in templates} != {
        "bootstrap",
        "teardown",
        "drift_check",
    }:
        raise RegistrationError(f"{PREFECT_FILE} lacks a {TEMPLATE!r} deployment of each flow")
    project.pop("definitions", None)  # its anchors are resolved in the deployments
    # The checkout these deployments run from, whatever directory registers them.
    project["pull"] = [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}
    ]
    project["deployments"] = [
        _for_environment(template, settings)
        for settings in configured.values()
        for template in templates
    ]
    return project


def _prefect_deploy(project: Mapping[str, Any], env: Mapping[str, str]) -> None:
    prefect = Path(sys.executable).parent / "prefect"
    with tempfile.TemporaryDirectory(prefix="bootstrap-deploy-") as folder:
        path = Path(folder) / "prefect.yaml"
        path.write_text(yaml.safe_dump(dict(project), sort_keys=False))
        result = subprocess.run(
            [str(prefect), "--no-prompt", "deploy", "--all", "--prefect-file", str(path)],
            cwd=PROJECT_ROOT,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise RegistrationError(f"prefect deploy failed:\n{result.stdout}\n{result.stderr}")


def _remove_unconfigured(configured: Mapping[str, BootstrapSettings]) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    removed: list[str] = []
    with get_client(sync_client=True) as client:
        flows = {
            f.id: f.name
            for f in client.read_flows(
                flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOWS)))
            )
        }
        for deployment in client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOWS)))
        ):
            if deployment.name not in configured:
                client.delete_deployment(deployment.id)
                removed.append(f"{flows.get(deployment.flow_id, '?')}/{deployment.name}")
    return sorted(removed)


def register(env: Mapping[str, str] | None = None) -> Registered:
    """Register the configured environments' deployments on the Prefect that `env`'s (default:
    this process's) PREFECT_API_URL names; delete those of environments not configured."""
    configured = configured_settings()
    project = prefect_file(configured)
    _prefect_deploy(project, env if env is not None else os.environ)
    removed = _remove_unconfigured(configured)
    return Registered(
        environments=list(configured),
        deployments=[f"{flow}/{name}" for name in configured for flow in FLOWS],
        schedules={f"drift-check/{name}": s.drift_schedule for name, s in configured.items()},
        removed=removed,
    )
