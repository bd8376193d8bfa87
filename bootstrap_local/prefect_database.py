"""A new local Prefect server's database, copied from one migrated once per Prefect version.

A Prefect server on an empty SQLite file runs every Alembic migration before it answers:
about 3.5 of the 9-11 CPU-seconds a start costs here, paid again by every new local stack (the
quick start once, the test suite by each module's stack). Migrating one template per Prefect
version and copying it gives each new server the same schema it would have built itself; a
server finds it at head and starts serving.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from bootstrap_flows.errors import ServiceError

BIN = Path(sys.executable).parent


class PrefectDatabaseError(ServiceError):
    """The template database could not be migrated; the message carries Prefect's output."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bootstrap-flows"


def template_path() -> Path:
    # The version names the schema: a template never outlives the Prefect that migrated it.
    # (From the installed distribution: importing prefect costs the CLI a second.)
    return cache_dir() / f"prefect-{version('prefect')}.db"


def connection_url(database: Path) -> str:
    return f"sqlite+aiosqlite:///{database}"


def prepare(database: Path, env: dict[str, str]) -> None:
    """Give a server that has no database yet a copy of the migrated template.

    An existing database is the user's (runs, deployments, automations): it is never touched.
    """
    if database.exists():
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(env), database)


def _template(env: dict[str, str]) -> Path:
    template = template_path()
    if template.is_file():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    # Stacks starting at once (the suite's workers) wait for one migration, not run one each.
    with (template.parent / "prefect-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.is_file():
            _migrate(template, env)
    return template


def _migrate(template: Path, env: dict[str, str]) -> None:
    # Migrated under a name of its own and renamed into place, so nothing ever copies a
    # half-migrated file.
    fd, scratch = tempfile.mkstemp(dir=template.parent, suffix=".db.partial")
    os.close(fd)
    Path(scratch).unlink()
    try:
        result = subprocess.run(
            [str(BIN / "prefect"), "server", "database", "upgrade", "-y"],
            env={**env, "PREFECT_API_DATABASE_CONNECTION_URL": connection_url(Path(scratch))},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-20:]
            raise PrefectDatabaseError(
                f"migrating the Prefect database template {scratch} failed:\n" + "\n".join(tail)
            )
        os.replace(scratch, template)
    finally:
        Path(scratch).unlink(missing_ok=True)
