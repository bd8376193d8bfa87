"""A new local Prefect server's database: a copy of one migrated once, never over a user's."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import prefect.server.database
import pytest
from alembic.script import ScriptDirectory

from bootstrap_local import prefect_database


def _sqlite_head() -> str:
    """The newest SQLite migration of the installed Prefect (what a server migrates up to)."""
    migrations = Path(prefect.server.database.__file__).parent / "_migrations"
    scripts = ScriptDirectory(
        str(migrations), version_locations=[str(migrations / "versions" / "sqlite")]
    )
    heads = scripts.get_heads()
    assert len(heads) == 1, heads
    return heads[0]


def _version(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(version)


@pytest.mark.slow
def test_a_new_database_is_the_migrated_template_at_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, second = tmp_path / "a" / "prefect.db", tmp_path / "b" / "prefect.db"

    prefect_database.prepare(first, dict(os.environ))
    template = prefect_database.template_path()
    made = template.stat().st_mtime_ns
    prefect_database.prepare(second, dict(os.environ))

    assert _version(first) == _version(second) == _sqlite_head()
    # Migrated once: the second server copied the same template.
    assert template.stat().st_mtime_ns == made
    assert not list(template.parent.glob("*.partial"))


def test_an_existing_database_is_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    database = tmp_path / "prefect.db"
    database.write_bytes(b"a user's runs")

    prefect_database.prepare(database, dict(os.environ))

    assert database.read_bytes() == b"a user's runs"
    assert not prefect_database.template_path().exists()


def test_the_template_is_named_after_the_prefect_that_migrated_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert prefect_database.template_path() == (
        tmp_path / "bootstrap-flows" / f"prefect-{prefect.__version__}.db"
    )
