"""A Prefect server of the environment's own: bootstrap applies the server stack and targets it.

On the embedded default the local ECS runtime runs the server task (the worker image, `prefect
server start`), a local PostgreSQL stands in for the RDS instance, and the worker, the pool and
the e2e run live on that server, not on the orchestrating one. Then drift-check covers the
stack, and teardown keeps the database until asked to delete it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.exceptions import ObjectNotFound

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import receipt
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.drift.findings import DriftReport
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.drift_check import drift_check
from bootstrap_flows.flows.teardown import teardown
from bootstrap_flows.terraform import stacks
from bootstrap_local.certificate import import_self_signed
from bootstrap_local.settings import load_local_settings
from bootstrap_local.stack import operator_calls_file
from tests.support.platform_state import ACCOUNT

pytestmark = pytest.mark.slow

# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()

ENVIRONMENT = "srv"
POOL = "srv-pool"


@pytest.fixture(scope="module")
def overrides(local_stack: BootstrapSettings) -> dict[str, Any]:
    return {
        "target": "emulator",
        "work_pool_name": POOL,
        "prefect_server": "aws",
        # A certificate of the user's own, imported into ACM, for the name the worker calls.
        "server_certificate_arn": import_self_signed(local_stack, "prefect.srv.example"),
        "server_domain_name": "prefect.srv.example",
    }


@pytest.fixture(scope="module")
def operator_mark() -> int:
    """Where this module's operator calls start in the session's recording."""
    recording = operator_calls_file(LOCAL)
    return recording.stat().st_size if recording.exists() else 0


@pytest.fixture(scope="module")
def bootstrapped(overrides: dict[str, Any], operator_mark: int) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        # The session's auth string is for the local server: this server's is generated.
        patch.delenv("BOOTSTRAP_PREFECT_API_AUTH_STRING")
        yield {"result": bootstrap(environment=ENVIRONMENT, overrides=overrides)}


@pytest.fixture(autouse=True)
def generated_auth_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each flow run of these tests uses the server's stored auth string, as a user's would."""
    monkeypatch.delenv("BOOTSTRAP_PREFECT_API_AUTH_STRING", raising=False)


def outputs(settings: BootstrapSettings, stack: str) -> dict[str, Any]:
    """What `stack` of this test's environment recorded."""
    settings = settings.model_copy(update={"environment": ENVIRONMENT})
    return stacks.read_outputs(settings, stack, state_bucket(settings))


def state_bucket(settings: BootstrapSettings) -> str:
    names = [b["Name"] for b in aws.client(settings, "s3").list_buckets().get("Buckets", [])]
    (bucket,) = [name for name in names if f"-{ENVIRONMENT}-tfstate-" in name]
    return bucket


def stored_auth_string(settings: BootstrapSettings) -> str:
    secret = outputs(settings, "platform")["prefect_api_secret_arn"]
    value = aws.client(settings, "secretsmanager").get_secret_value(SecretId=secret)
    return str(value["SecretString"])


def server_client(settings: BootstrapSettings) -> SyncPrefectClient:
    url = f"http://127.0.0.1:{LOCAL.server_port}/api"
    return SyncPrefectClient(url, auth_string=stored_auth_string(settings))


def test_pool_worker_and_e2e_run_live_on_the_server_stack(
    local_stack: BootstrapSettings, bootstrapped: dict[str, Any]
) -> None:
    result = bootstrapped["result"]
    assert result.e2e.state == "Completed"
    assert result.applied["server"] is True
    assert result.target_prefect == f"http://127.0.0.1:{LOCAL.server_port}/api"
    with server_client(local_stack) as server:
        assert server.read_work_pool(POOL).type == "ecs"
        workers = server.read_workers_for_work_pool(POOL)
        assert [w.name for w in workers if w.last_heartbeat_time] == [result.worker_name]
        run = server.read_flow_run(UUID(result.e2e.flow_run_id))
        assert run.state is not None and run.state.is_completed()
    with get_client(sync_client=True) as orchestrator, pytest.raises(ObjectNotFound):
        orchestrator.read_work_pool(POOL)


def test_the_server_serves_its_ui(bootstrapped: dict[str, Any]) -> None:
    """The UI is what people open: the image's user cannot write into site-packages, where
    Prefect builds the UI by default, so the task points PREFECT_UI_STATIC_DIRECTORY at /tmp."""
    page = httpx.get(f"http://127.0.0.1:{LOCAL.server_port}/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:500]


def test_the_server_keeps_its_data_in_the_database_standing_in_for_rds(
    local_stack: BootstrapSettings, bootstrapped: dict[str, Any]
) -> None:
    server = outputs(local_stack, "server")
    rds = aws.client(local_stack, "rds")
    (instance,) = rds.describe_db_instances(DBInstanceIdentifier=server["db_identifier"])[
        "DBInstances"
    ]
    assert instance["Endpoint"]["Port"] == LOCAL.postgres_port
    secret = aws.client(local_stack, "secretsmanager").get_secret_value(
        SecretId=server["db_master_secret_arn"]
    )
    credentials = json.loads(secret["SecretString"])

    async def runs() -> list[str]:
        connection = await asyncpg.connect(
            host="127.0.0.1",
            port=LOCAL.postgres_port,
            user=credentials["username"],
            password=credentials["password"],
            database="prefect",
        )
        try:
            return [str(row["id"]) for row in await connection.fetch("SELECT id FROM flow_run")]
        finally:
            await connection.close()

    # The e2e run is a row in that database: the server really runs on it.
    assert bootstrapped["result"].e2e.flow_run_id in asyncio.run(runs())


def test_the_auth_string_is_generated_once_and_never_in_state(
    local_stack: BootstrapSettings, bootstrapped: dict[str, Any], overrides: dict[str, Any]
) -> None:
    auth = stored_auth_string(local_stack)
    user, _, password = auth.partition(":")
    assert user == "prefect" and len(password) >= 40
    s3 = aws.client(local_stack, "s3")
    bucket = state_bucket(local_stack)
    for stack in ("platform", "server", "worker"):
        key = f"{stack}/{ENVIRONMENT}.tfstate"
        assert password not in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    again = bootstrap(environment=ENVIRONMENT, overrides=overrides)
    assert again.applied == {"platform": False, "server": False, "worker": False}
    assert again.e2e.state == "Completed"
    assert stored_auth_string(local_stack) == auth


def test_drift_check_covers_the_server_stack(
    local_stack: BootstrapSettings, bootstrapped: dict[str, Any], overrides: dict[str, Any]
) -> None:
    state = drift_check(environment=ENVIRONMENT, overrides=overrides, return_state=True)
    assert state.is_completed(), state.message
    server = outputs(local_stack, "server")
    rds = aws.client(local_stack, "rds")
    (instance,) = rds.describe_db_instances(DBInstanceIdentifier=server["db_identifier"])[
        "DBInstances"
    ]
    rds.modify_db_instance(
        DBInstanceIdentifier=server["db_identifier"],
        BackupRetentionPeriod=instance["BackupRetentionPeriod"] + 3,
        ApplyImmediately=True,
    )
    state = drift_check(environment=ENVIRONMENT, overrides=overrides, return_state=True)
    report = state.result(raise_on_failure=False).report
    assert isinstance(report, DriftReport)
    assert state.name == "Drifted", report.errors
    (finding,) = report.findings
    assert finding.stack == "server"
    assert finding.resource.endswith("aws_db_instance.this")
    assert finding.attribute == "backup_retention_period"


def test_teardown_keeps_the_database_until_asked(
    local_stack: BootstrapSettings, bootstrapped: dict[str, Any]
) -> None:
    identifier = outputs(local_stack, "server")["db_identifier"]
    rds = aws.client(local_stack, "rds")
    ec2 = aws.client(local_stack, "ec2")
    environment_vpcs = [{"Name": "tag:Environment", "Values": [ENVIRONMENT]}]

    # By the environment's name: none of the server stack's parameters bootstrap was given
    # (the certificate, prefect_server=aws); the target and pool name stand for its file.
    by_name = {"target": "emulator", "work_pool_name": POOL}
    teardown(environment=ENVIRONMENT, overrides=by_name, confirm=ENVIRONMENT)
    assert rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    assert ec2.describe_vpcs(Filters=environment_vpcs)["Vpcs"]  # the database lives in it
    balancers = aws.client(local_stack, "elbv2").describe_load_balancers()["LoadBalancers"]
    assert [b for b in balancers if b["LoadBalancerName"] == identifier] == []

    teardown(environment=ENVIRONMENT, overrides=by_name, delete_database=True, confirm=ENVIRONMENT)
    assert [
        i
        for i in rds.describe_db_instances()["DBInstances"]
        if i["DBInstanceIdentifier"] == identifier
    ] == []
    snapshots = rds.describe_db_snapshots(DBInstanceIdentifier=identifier)["DBSnapshots"]
    # Named for the database's creation (UTC, to the second): a later database's differs.
    [final] = [
        s["DBSnapshotIdentifier"]
        for s in snapshots
        if re.fullmatch(rf"{identifier}-final-\d{{14}}", s["DBSnapshotIdentifier"])
    ]
    assert ec2.describe_vpcs(Filters=environment_vpcs)["Vpcs"] == []
    # What the account still holds for the environment: the state and the final snapshot, and
    # the API secret for its recovery window (expected: the next bootstrap restores it).
    srv = local_stack.model_copy(update={"environment": ENVIRONMENT})
    listed = receipt.leftovers(srv)
    left = {item.resource.rsplit(":", 1)[-1] for item in listed if not item.expected}
    assert left == {srv.state_bucket_name(ACCOUNT), final}
    assert [item.service for item in listed if item.expected] == ["secretsmanager"]


def test_the_operator_policy_allows_every_call_made_and_grants_nothing_unused(
    local_stack: BootstrapSettings, operator_mark: int, overrides: dict[str, Any]
) -> None:
    """Last in this module: its recording holds the operator's calls of a bootstrap (platform,
    server, worker), a re-run, two drift-checks and two teardowns. Each is allowed by the
    operator policy rendered for the environment, and each action the policy grants was made
    or is justified in modules/operator/README.md (tests/support/operator_grants.py)."""
    from tests.support import operator_grants  # the check; see its module

    calls = operator_grants.module_calls(operator_calls_file(LOCAL), operator_mark)
    settings = local_stack.model_copy(update={"environment": ENVIRONMENT, **overrides})
    findings = operator_grants.check(calls, settings)
    print(findings.report())
    assert findings.denied == [], findings.report()
    assert findings.unused == [], findings.report()
