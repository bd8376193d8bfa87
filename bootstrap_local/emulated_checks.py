"""Scheduled drift checks of the environments that live in this stack's emulator: paused when
the stack stops, since their AWS stops with it.

moto keeps nothing across a restart, but the Prefect server's database keeps every deployment and
schedule. A drift-check that came due while the stack was down would run as soon as `local up`
starts the `bootstrap` worker, against an emptied emulator, and end CheckFailed ("NoSuchBucket")
for an environment nobody broke: a red run in the UI and, with a notification block set, an
alert. So `local down` pauses those deployments (Prefect deletes their scheduled runs then) and
`local up` says which are paused and why. Registering the deployments again resumes them:
`bootstrap-flows deploy`, which the quick start runs before it bootstraps `local` again.
Environments on real AWS keep their schedules: their AWS is still there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from bootstrap_flows.config.settings import SettingsError, load_settings
from bootstrap_flows.config.target import resolve
from bootstrap_local import processes
from bootstrap_local.settings import LocalSettings

DRIFT_CHECK = "drift-check"


def on_emulator(deployment: Any) -> bool:
    environment = (deployment.parameters or {}).get("environment")
    try:
        return bool(environment) and resolve(load_settings(environment=environment)).disposable
    except SettingsError:
        return False  # not configured here any more: not ours to judge


@contextlib.contextmanager
def _client(local: LocalSettings) -> Iterator[Any]:
    """A client of this stack's Prefect, whatever PREFECT_API_URL this process was started with
    (unset in a user's shell: Prefect would start a throwaway server of its own)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: local.prefect_api_url}),
        get_client(sync_client=True) as client,
    ):
        yield client


def _drift_checks(client: Any) -> list[Any]:
    """The drift-check deployments on this stack's Prefect whose environment is emulated."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    found = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[DRIFT_CHECK])))
    return [deployment for deployment in found if on_emulator(deployment)]


def pause(local: LocalSettings) -> list[str]:
    """Pause the emulated environments' drift checks (before the stack stops); their names."""
    if processes.running_pid(local.state_dir, "prefect") is None:
        return []
    with _client(local) as client:
        checks = [d for d in _drift_checks(client) if not d.paused]
        for deployment in checks:
            client.pause_deployment(deployment.id)
    return [f"{DRIFT_CHECK}/{deployment.name}" for deployment in checks]


def paused(local: LocalSettings) -> list[str]:
    """The emulated environments' drift checks that are paused (after the stack started)."""
    with _client(local) as client:
        return [f"{DRIFT_CHECK}/{d.name}" for d in _drift_checks(client) if d.paused]
