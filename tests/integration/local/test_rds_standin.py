"""The local PostgreSQL standing in for emulated RDS, for real: the postgres service started as
`local up` starts it (as root here and in CI: PostgreSQL refuses root, see local/database.py),
an RDS instance with a managed master password in a real moto, and the ECS runtime's stand-in
making its user and database. The task's side (name resolution in a container) is in
test_ecs_runtime.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import pytest

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_local import database, processes, stack
from bootstrap_local.ecs_runtime.clients import AwsClients
from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.rds_standin import RdsStandIn
from bootstrap_local.settings import LocalSettings, load_local_settings
from tests.support.ports import free_port
from tests.support.servers import moto_server

pytestmark = pytest.mark.slow

# The product's loggers and the embedded default's: none may log a password.
OUR_LOGGERS = ("bootstrap_flows", "bootstrap_local")


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    with moto_server(tmp_path / "moto.log") as url:
        yield url


@pytest.fixture
def local(tmp_path: Path) -> LocalSettings:
    """A postgres service of this test's own: its state directory and a free port."""
    return load_local_settings(state_dir=tmp_path / "state", postgres_port=free_port())


@pytest.fixture
def settings(local: LocalSettings, endpoint: str) -> Iterator[BootstrapSettings]:
    assert database.bin_dir() is not None, database.MISSING_NOTE
    settings = load_settings(environment="local", aws_endpoint_url=endpoint)
    try:
        assert stack.start_postgres(local, stack.child_env(settings, local))
        yield settings
    finally:
        processes.stop(local.state_dir, database.SERVICE)


def client(settings: BootstrapSettings, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_instance(settings: BootstrapSettings, port: int) -> dict[str, Any]:
    """As the server stack makes it: RDS keeps the master password in Secrets Manager."""
    created = client(settings, "rds").create_db_instance(
        DBInstanceIdentifier="prefect-local-server",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        EngineVersion="16.3",
        AllocatedStorage=20,
        DBName="prefect",
        MasterUsername="prefect",
        ManageMasterUserPassword=True,
        Port=port,
    )
    return dict(created["DBInstance"])


def managed_login(settings: BootstrapSettings, secret_arn: str) -> dict[str, str]:
    secret = client(settings, "secretsmanager").get_secret_value(SecretId=secret_arn)
    return dict(json.loads(secret["SecretString"]))


async def login(port: int, user: str, password: str) -> tuple[str, str]:
    """Log in over TCP as a task does, and do what Prefect's migrations do first."""
    connection = await asyncpg.connect(
        host="127.0.0.1", port=port, user=user, password=password, database="prefect"
    )
    try:
        await connection.execute("CREATE TABLE IF NOT EXISTS probe (id int)")
        row = await connection.fetchrow("SELECT current_user, current_database()")
        return str(row[0]), str(row[1])
    finally:
        await connection.close()


def test_an_rds_instance_gets_its_user_and_database_locally(
    settings: BootstrapSettings, local: LocalSettings, caplog: pytest.LogCaptureFixture
) -> None:
    for ours in OUR_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=ours)
    port = local.postgres_port
    created = create_instance(settings, port)
    secret_arn = created["MasterUserSecret"]["SecretArn"]
    standin = RdsStandIn(AwsClients(settings), local)

    instances = standin.instances()
    address = created["Endpoint"]["Address"]
    assert list(instances) == [address]
    standin.prepare(instances.values())
    standin.prepare(instances.values())  # again: nothing to add, nothing breaks

    credentials = managed_login(settings, secret_arn)
    user, password = credentials["username"], credentials["password"]
    assert asyncio.run(login(port, user, password)) == (user, "prefect")
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(login(port, user, password + "-wrong"))

    # A rotated secret: the next launch brings the new password, the old one stops working.
    rotated = f"{password}-rotated'\"\\;"
    client(settings, "secretsmanager").put_secret_value(
        SecretId=secret_arn, SecretString=json.dumps({"username": user, "password": rotated})
    )
    standin.prepare(standin.instances().values())
    assert asyncio.run(login(port, user, rotated)) == (user, "prefect")
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(login(port, user, password))

    # Nothing of ours logged a password (the test's own boto3 calls may, at DEBUG).
    server_log = processes.log_file(local.state_dir, database.SERVICE).read_text()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(OUR_LOGGERS)]
    for value in (password, rotated):
        assert value not in server_log
        assert all(value not in message for message in ours)


def test_a_launch_naming_rds_fails_clearly_while_postgres_is_down(
    settings: BootstrapSettings, local: LocalSettings
) -> None:
    create_instance(settings, local.postgres_port)
    standin = RdsStandIn(AwsClients(settings), local)
    instances = standin.instances()
    processes.stop(local.state_dir, database.SERVICE)

    with pytest.raises(LaunchError) as failed:
        standin.prepare(instances.values())
    reason = str(failed.value)
    assert reason.startswith("ResourceInitializationError: database prefect-local-server: ")
    assert "the local PostgreSQL standing in for RDS does not answer" in reason
    assert "bootstrap-flows local up" in reason
    standin.prepare([])  # a task that names no instance is not affected
