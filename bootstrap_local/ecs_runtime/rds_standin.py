"""RDS's stand-in: the local PostgreSQL answers for the emulated RDS instances a task names.

moto records RDS instances but runs no database. Before each launch the runtime lists them (one
DescribeDBInstances call, `instances()`); a container that names an instance's endpoint in its
environment or command (`spec.named_hosts`) gets that name pointed at 127.0.0.1, where the local
PostgreSQL listens (`local/database.py`), and `prepare()` makes the instance's master user there,
with the user name and password of its managed secret (ManageMasterUserPassword: what the task
reads through its `secrets`), and the instance's database, owned by that user. A task that names
no instance is left as it is, whatever state PostgreSQL is in.

The password reaches PostgreSQL only over its socket (in a directory of ours, mode 0700), inside
a statement the server builds itself (`format('%L')`), in a session that logs no statement: it
is on no command line and in no log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_local import database
from bootstrap_local.ecs_runtime.clients import AwsClients, error_code
from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.secret_values import SecretResolver
from bootstrap_local.settings import LocalSettings

logger = logging.getLogger("bootstrap_local.ecs_runtime")

# Where the local PostgreSQL listens (database.command's listen_addresses).
LOOPBACK = "127.0.0.1"
ENGINES = ("postgres",)
CONNECT_TIMEOUT = 5.0
# No statement of this session reaches the server's log, not even one that fails.
QUIET_SESSION = {
    "log_statement": "none",
    "log_min_error_statement": "panic",
    "log_min_duration_statement": "-1",
}
# Built by the server: %I quotes an identifier and %L a literal, whatever they hold.
ROLE_STATEMENT = """
SELECT format(
    CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = $1)
        THEN 'ALTER ROLE %I WITH LOGIN PASSWORD %L'
        ELSE 'CREATE ROLE %I WITH LOGIN PASSWORD %L'
    END,
    $1::text, $2::text)
"""
# NULL when the database exists with that owner (or is one of PostgreSQL's own).
DATABASE_STATEMENT = """
SELECT CASE
    WHEN NOT EXISTS (SELECT FROM pg_database WHERE datname = $1)
        THEN format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)
    WHEN $1 NOT IN ('postgres', 'template0', 'template1')
        AND (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1) <> $2
        THEN format('ALTER DATABASE %I OWNER TO %I', $1::text, $2::text)
END
"""


@dataclass(frozen=True)
class RdsInstance:
    """An emulated RDS instance, as far as its stand-in needs it."""

    identifier: str
    address: str  # the endpoint's host name
    port: int
    database: str | None  # DBName: the database RDS makes at creation, if any
    secret_arn: str | None  # the managed master user secret, if the password is managed


@dataclass(frozen=True)
class Login:
    """A master user as the task logs in with it, and the database it owns."""

    instance: RdsInstance
    user: str
    password: str = field(repr=False)


def postgres_instances(described: Iterable[Mapping[str, Any]]) -> dict[str, RdsInstance]:
    """Endpoint address -> instance, for the PostgreSQL instances that have an endpoint."""
    found: dict[str, RdsInstance] = {}
    for item in described:
        endpoint = item.get("Endpoint") or {}
        if item.get("Engine") not in ENGINES or not endpoint.get("Address"):
            continue
        address = str(endpoint["Address"])
        found[address] = RdsInstance(
            identifier=str(item["DBInstanceIdentifier"]),
            address=address,
            port=int(endpoint.get("Port") or item.get("DbInstancePort") or 5432),
            database=item.get("DBName") or None,
            secret_arn=(item.get("MasterUserSecret") or {}).get("SecretArn"),
        )
    return found


def extra_hosts(instances: Mapping[str, RdsInstance]) -> dict[str, str]:
    """What the runtime's containers may resolve: every instance's endpoint, to PostgreSQL."""
    return dict.fromkeys(instances, LOOPBACK)


class RdsStandIn:
    """Lists the emulated RDS instances and makes their users and databases locally."""

    def __init__(self, clients: AwsClients, local: LocalSettings) -> None:
        self.clients = clients
        self.local = local
        self.secrets = SecretResolver(clients)

    def instances(self) -> dict[str, RdsInstance]:
        """The emulated PostgreSQL instances by endpoint address; empty when RDS does not
        answer: a task that names none must not fail for it (one that does cannot resolve it)."""
        try:
            pages = self.clients.get("rds").get_paginator("describe_db_instances").paginate()
            return postgres_instances(item for page in pages for item in page["DBInstances"])
        except (ClientError, BotoCoreError) as exc:
            logger.warning("cannot list the emulated RDS instances: %s", error_code(exc))
            return {}

    def prepare(self, instances: Iterable[RdsInstance]) -> None:
        """Make each instance's master user and database in the local PostgreSQL; a LaunchError
        says why one cannot be."""
        logins = [login for instance in instances if (login := self._login(instance))]
        if logins:
            asyncio.run(self._apply(logins))

    def _login(self, instance: RdsInstance) -> Login | None:
        if instance.port != self.local.postgres_port:
            raise LaunchError(
                f"ResourceInitializationError: database {instance.identifier} listens on port "
                f"{instance.port}, the local PostgreSQL standing in for RDS on "
                f"{self.local.postgres_port}: create it with the target's database_port"
            )
        if instance.secret_arn is None:
            # Only a managed secret tells us the password; the task will meet a login error.
            logger.warning(
                "database %s has no managed master user secret: its user is not made locally",
                instance.identifier,
            )
            return None
        user = self.secrets.value(f"{instance.secret_arn}:username::")
        password = self.secrets.value(f"{instance.secret_arn}:password::")
        return Login(instance, user, password)

    async def _apply(self, logins: list[Login]) -> None:
        connection = await self._connect(logins)
        try:
            for login in logins:
                await _make(connection, login)
        finally:
            await connection.close()

    async def _connect(self, logins: list[Login]) -> Any:
        sockets = database.socket_dir(self.local)
        try:
            return await asyncpg.connect(
                host=str(sockets),
                port=self.local.postgres_port,
                user=database.SUPERUSER,
                database="postgres",
                timeout=CONNECT_TIMEOUT,
                server_settings=QUIET_SESSION,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            names = ", ".join(login.instance.identifier for login in logins)
            raise LaunchError(
                f"ResourceInitializationError: database {names}: the local PostgreSQL standing "
                f"in for RDS does not answer at {sockets} ({type(exc).__name__}: {exc}); "
                "start it with `bootstrap-flows local up` (it needs PostgreSQL's server binaries)"
            ) from exc


async def _make(connection: Any, login: Login) -> None:
    """The role with its password, then its database (when the instance names one)."""
    try:
        await connection.execute(
            await connection.fetchval(ROLE_STATEMENT, login.user, login.password)
        )
        if login.instance.database:
            statement = await connection.fetchval(
                DATABASE_STATEMENT, login.instance.database, login.user
            )
            if statement:
                await connection.execute(statement)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # from None: a failed statement can hold the password; the message does not.
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise LaunchError(
            f"ResourceInitializationError: database {login.instance.identifier}: cannot make "
            f"user {login.user} in the local PostgreSQL: {type(exc).__name__}: {first_line}"
        ) from None
