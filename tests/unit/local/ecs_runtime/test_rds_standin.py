"""RDS's stand-in without a server: which instances count, and what fails before any login."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bootstrap_flows.config.settings import load_settings
from bootstrap_local.ecs_runtime.clients import AwsClients
from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.rds_standin import (
    RdsInstance,
    RdsStandIn,
    extra_hosts,
    postgres_instances,
)
from bootstrap_local.settings import load_local_settings
from tests.support.ports import free_port

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0123-AbCdEf"


def described(identifier: str, **fields: Any) -> dict[str, Any]:
    return {
        "DBInstanceIdentifier": identifier,
        "Engine": "postgres",
        "Endpoint": {
            "Address": f"{identifier}.aaaaaaaaaa.us-east-1.rds.amazonaws.com",
            "Port": 15432,
        },
        "DBName": "prefect",
        "MasterUsername": "prefect",
        "MasterUserSecret": {"SecretArn": SECRET, "SecretStatus": "active"},
        **fields,
    }


def test_postgres_instances_with_an_endpoint_by_address() -> None:
    found = postgres_instances(
        [
            described("server"),
            described("bare", DBName=None, MasterUserSecret=None),
            described("mysql", Engine="mysql"),
            described("creating", Endpoint=None),
        ]
    )
    assert found == {
        "server.aaaaaaaaaa.us-east-1.rds.amazonaws.com": RdsInstance(
            identifier="server",
            address="server.aaaaaaaaaa.us-east-1.rds.amazonaws.com",
            port=15432,
            database="prefect",
            secret_arn=SECRET,
        ),
        "bare.aaaaaaaaaa.us-east-1.rds.amazonaws.com": RdsInstance(
            "bare", "bare.aaaaaaaaaa.us-east-1.rds.amazonaws.com", 15432, None, None
        ),
    }
    assert extra_hosts(found) == dict.fromkeys(found, "127.0.0.1")


@pytest.fixture
def standin(tmp_path: Path) -> RdsStandIn:
    settings = load_settings(
        environment="local",
        # Nothing answers here: a call to AWS or PostgreSQL would fail the test.
        aws_endpoint_url=f"http://127.0.0.1:{free_port()}",
        prefect_api_auth_string="worker:x",
    )
    local = load_local_settings(state_dir=tmp_path, postgres_port=15432)
    return RdsStandIn(AwsClients(settings), local)


def instance(port: int = 15432, secret_arn: str | None = SECRET) -> RdsInstance:
    return RdsInstance("server", "server.example", port, "prefect", secret_arn)


def test_a_task_that_names_no_instance_needs_nothing(standin: RdsStandIn) -> None:
    standin.prepare([])


def test_an_instance_on_another_port_fails_the_launch(standin: RdsStandIn) -> None:
    with pytest.raises(LaunchError, match="listens on port 5432, the local PostgreSQL .* 15432"):
        standin.prepare([instance(port=5432)])


def test_an_instance_without_a_managed_secret_is_only_resolved(
    standin: RdsStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.prepare([instance(secret_arn=None)])
    assert "server has no managed master user secret" in caplog.text
