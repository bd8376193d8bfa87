"""Orchestrator and target apart: bootstrap runs on one Prefect and provisions for another.

The session's local Prefect server orchestrates (it runs `bootstrap` and `drift-check` and keeps
their artifacts); a second Prefect server, with basic auth on, is the target the ECS worker
connects to. Everything the worker sees must land on the target, nothing of it on the
orchestrator, and a wrong credential must stop bootstrap before anything is created.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolUpdate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
)
from prefect.exceptions import ObjectNotFound

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.drift.findings import DriftCheckFailed, DriftDetected, DriftReport
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.drift_check import drift_check
from bootstrap_flows.safety.preflight import PreflightError
from tests.support.servers import prefect_server

pytestmark = pytest.mark.slow

ENVIRONMENT = "two"
POOL = "two-pool"
OVERRIDES = {"target": "emulator", "work_pool_name": POOL}
BIN = Path(sys.executable).parent


@dataclass
class Server:
    url: str
    auth_string: str

    def client(self) -> SyncPrefectClient:
        return SyncPrefectClient(self.url, auth_string=self.auth_string)


@pytest.fixture(scope="module")
def target_server(
    local_stack: BootstrapSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A second Prefect server with basic auth on: the Prefect the worker talks to."""
    home = tmp_path_factory.mktemp("target-prefect")
    auth = f"admin:{secrets.token_hex(12)}"
    with prefect_server(home, auth) as (url, _):
        yield Server(url, auth)


@pytest.fixture
def targeting(target_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """Settings of this process name the target (secrets by environment, never parameters)."""
    monkeypatch.setenv("BOOTSTRAP_PREFECT_API_URL", target_server.url)
    monkeypatch.setenv("BOOTSTRAP_PREFECT_API_AUTH_STRING", target_server.auth_string)
    return target_server


def state_buckets(settings: BootstrapSettings) -> list[str]:
    names = [b["Name"] for b in aws.client(settings, "s3").list_buckets().get("Buckets", [])]
    return [name for name in names if f"-{ENVIRONMENT}-tfstate-" in name]


def test_wrong_target_credential_stops_before_any_change(
    local_stack: BootstrapSettings, targeting: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOTSTRAP_PREFECT_API_AUTH_STRING", "admin:not-the-password")
    with pytest.raises(PreflightError) as caught:
        bootstrap(environment=ENVIRONMENT, overrides=OVERRIDES)
    message = str(caught.value)
    assert (
        f"the Prefect API at {targeting.url} refused the worker's credential (HTTP 401)" in message
    )
    assert "BOOTSTRAP_PREFECT_API_AUTH_STRING" in message
    assert "not-the-password" not in message
    assert state_buckets(local_stack) == []  # nothing was created, not even the state bucket


@pytest.fixture(scope="module")
def bootstrapped(local_stack: BootstrapSettings, target_server: Server) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOOTSTRAP_PREFECT_API_URL", target_server.url)
        patch.setenv("BOOTSTRAP_PREFECT_API_AUTH_STRING", target_server.auth_string)
        result = bootstrap(environment=ENVIRONMENT, overrides=OVERRIDES)
    return {"result": result}


def test_pool_heartbeat_and_e2e_run_are_on_the_target(
    bootstrapped: dict[str, Any], target_server: Server
) -> None:
    result = bootstrapped["result"]
    assert result.e2e.state == "Completed"
    assert result.target_prefect == target_server.url
    assert result.orchestrator_prefect == os.environ["PREFECT_API_URL"]
    with target_server.client() as target:
        pool = target.read_work_pool(POOL)
        assert pool.type == "ecs"
        workers = target.read_workers_for_work_pool(POOL)
        assert [w.name for w in workers if w.last_heartbeat_time] == [result.worker_name]
        (deployment,) = target.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["e2e"]))
        )
        runs = target.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id])
            )
        )
        assert str(runs[0].id) == result.e2e.flow_run_id
        assert runs[0].state is not None and runs[0].state.is_completed()


def test_orchestrator_holds_only_the_runs_own_records(
    bootstrapped: dict[str, Any], target_server: Server
) -> None:
    result = bootstrapped["result"]
    with get_client(sync_client=True) as orchestrator:
        with pytest.raises(ObjectNotFound):
            orchestrator.read_work_pool(POOL)
        with pytest.raises(ObjectNotFound):
            orchestrator.read_flow_run(UUID(result.e2e.flow_run_id))
        summary = orchestrator.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"{ENVIRONMENT}-bootstrap-summary"])
            )
        )
    assert summary and target_server.url in str(summary[0].data)
    with target_server.client() as target:
        assert (
            target.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[f"{ENVIRONMENT}-bootstrap-summary"])
                )
            )
            == []
        )


def drift(target_server: Server) -> tuple[str, DriftReport]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOOTSTRAP_PREFECT_API_URL", target_server.url)
        patch.setenv("BOOTSTRAP_PREFECT_API_AUTH_STRING", target_server.auth_string)
        state = drift_check(environment=ENVIRONMENT, overrides=OVERRIDES, return_state=True)
    result = state.result(raise_on_failure=False)
    report = result.report if isinstance(result, DriftDetected | DriftCheckFailed) else result
    assert isinstance(report, DriftReport), result
    return str(state.name), report


def test_drift_check_reads_pool_and_worker_on_the_target(
    bootstrapped: dict[str, Any], target_server: Server
) -> None:
    name, report = drift(target_server)
    assert (name, report.findings) == ("Completed", [])  # pool and worker found on the target
    with target_server.client() as target:
        target.update_work_pool(POOL, WorkPoolUpdate(is_paused=True))
    try:
        name, report = drift(target_server)
    finally:
        with target_server.client() as target:
            target.update_work_pool(POOL, WorkPoolUpdate(is_paused=False))
    assert name == "Drifted"
    assert [(f.kind, f.resource, f.attribute) for f in report.findings] == [
        ("prefect", f"work_pool.{POOL}", "is_paused")
    ]
