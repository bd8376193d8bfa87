"""Environments from one code, on the embedded default: what the quick start registers, and a
second environment bootstrapped with the image that passed in the first (promotion).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.objects import State

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.summary import BootstrapResult
from bootstrap_flows.flows.teardown import teardown
from bootstrap_flows.image.promote import variable_name
from bootstrap_flows.prefect_side import registration
from bootstrap_local.cli import deploy_all
from bootstrap_local.settings import load_local_settings
from tests.integration.test_bootstrap_flow import run_logs

# Shares the worker's `local` environment with the other modules of tests/schedule.py's SHARED.
pytestmark = pytest.mark.slow

# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()

CHECKOUT = PROJECT_ROOT / "environments"
VARIABLE = "BOOTSTRAP_ENVIRONMENTS_DIR"
PROMOTED = "prom"


def registered() -> dict[str, list[tuple[str, bool]]]:
    """Every deployment of the three flows on the test's Prefect, with its schedules."""
    names = FlowFilter(name=FlowFilterName(any_=list(registration.FLOWS)))
    with get_client(sync_client=True) as client:
        flows = {flow.id: flow.name for flow in client.read_flows(flow_filter=names)}
        deployments = client.read_deployments(flow_filter=names)
    return {
        f"{flows[d.flow_id]}/{d.name}": [
            (str(getattr(s.schedule, "cron", s.schedule)), s.active) for s in d.schedules
        ]
        for d in deployments
    }


def test_quick_start_schedules_only_configured_environments(
    local_stack: BootstrapSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a machine that registered an environment which is no longer configured.
    before = tmp_path / "environments"
    before.mkdir()
    shutil.copy(CHECKOUT / "local.env", before)
    (before / "gone.env").write_text("BOOTSTRAP_TARGET=emulator\nBOOTSTRAP_WORK_POOL_NAME=gone\n")
    monkeypatch.setenv(VARIABLE, str(before))
    deploy_all(local_stack, LOCAL)
    assert registered()["drift-check/gone"] == [("*/30 * * * *", True)]

    # The quick start with the checkout's environments: local's three, nothing else.
    monkeypatch.setenv(VARIABLE, str(CHECKOUT))
    result = deploy_all(local_stack, LOCAL)
    assert result.environments == ["local"]
    assert result.removed == ["bootstrap/gone", "drift-check/gone", "teardown/gone"]
    assert registered() == {
        "bootstrap/local": [],
        "teardown/local": [],
        "drift-check/local": [("*/30 * * * *", True)],
    }
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("teardown/local")
        assert deployment.parameters == {"environment": "local", "confirm": "local"}
        # A scheduled drift check would race the promotion test's bootstraps for the lock.
        client.pause_deployment(client.read_deployment_by_name("drift-check/local").id)


def _bootstrap(environment: str) -> tuple[BootstrapResult, str]:
    state: State[Any] = bootstrap(environment=environment, return_state=True)
    logs = run_logs(state.state_details.flow_run_id) if state.state_details.flow_run_id else ""
    assert state.is_completed(), logs[-3000:]
    result = state.result()
    assert isinstance(result, BootstrapResult)
    return result, logs


@pytest.fixture(scope="module")
def promoted(
    local_stack: BootstrapSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """`local` bootstrapped (its image passes e2e), then `prom` promoted from it."""
    folder = tmp_path_factory.mktemp("environments")
    shutil.copy(CHECKOUT / "local.env", folder)
    (folder / f"{PROMOTED}.env").write_text(
        "BOOTSTRAP_TARGET=emulator\n"
        f"BOOTSTRAP_WORK_POOL_NAME={PROMOTED}-pool\n"
        "BOOTSTRAP_PROMOTE_FROM=local\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(VARIABLE, str(folder))
        source, _ = _bootstrap("local")
        started = time.monotonic()
        result, logs = _bootstrap(PROMOTED)
        seconds = round(time.monotonic() - started, 1)
        print(f"bootstrap of {PROMOTED} promoted from local: {seconds} s")
        yield {"source": source, "result": result, "logs": logs, "seconds": seconds}
        teardown(environment=PROMOTED, confirm=PROMOTED)


def test_promoted_environment_runs_the_tested_digest(
    promoted: dict[str, Any], local_stack: BootstrapSettings
) -> None:
    source: BootstrapResult = promoted["source"]
    result: BootstrapResult = promoted["result"]
    digest = source.image.digest
    assert result.image.digest == digest
    registry = f"127.0.0.1:{LOCAL.registry_port}"
    assert result.image.uri == f"{registry}/prefect-{PROMOTED}-worker@{digest}"
    assert not result.image.skipped  # copied, not found
    assert "Promoting from local: not building" in promoted["logs"]
    assert f"Copying {source.image.uri} to {registry}/prefect-{PROMOTED}-worker" in promoted["logs"]
    # ECR of the promoted environment holds it under the same content tag.
    ecr = aws.client(local_stack, "ecr")
    images = ecr.describe_images(repositoryName=f"prefect-{PROMOTED}-worker")["imageDetails"]
    assert [(i["imageDigest"], i.get("imageTags")) for i in images] == [
        (digest, [source.image.tag])
    ]
    # Its e2e test flow passed with that digest: recorded for the next promotion.
    with get_client(sync_client=True) as client:
        passed = {
            name: client.read_variable_by_name(variable_name(name)) for name in ("local", PROMOTED)
        }
    values = {n: v.value for n, v in passed.items() if v is not None and isinstance(v.value, dict)}
    assert values[PROMOTED]["digest"] == values["local"]["digest"] == digest
    assert values[PROMOTED]["code"] == values["local"]["code"]
    assert str(result.e2e.flow_run_id) == values[PROMOTED]["flow_run_id"]
