"""The local PostgreSQL's decisions: which binaries, who runs them, where (no server started)."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from bootstrap_flows.config.settings import load_settings
from bootstrap_local import database, stack
from bootstrap_local.settings import load_local_settings
from bootstrap_local.target import emulated_target

POSTGRES = pwd.struct_passwd(("postgres", "x", 101, 104, "", "/var/lib/postgresql", "/bin/sh"))


def server_dir(root: Path, version: str, *binaries: str) -> Path:
    path = root / version / "bin"
    path.mkdir(parents=True)
    for name in binaries:
        (path / name).write_text("")
    return path


def test_newest_version_first_by_number() -> None:
    dirs = [Path(f"/usr/lib/postgresql/{v}/bin") for v in ("9.6", "16", "15", "main", "10")]
    assert [path.parent.name for path in database.newest_first(dirs)] == ["16", "15", "10", "9.6"]


def test_the_first_directory_with_a_server_wins(tmp_path: Path) -> None:
    client_only = server_dir(tmp_path, "17", "psql", "pg_config")
    server = server_dir(tmp_path, "16", "postgres", "initdb", "pg_isready")
    assert database.first_server_dir([None, client_only, server]) == server
    assert database.first_server_dir([None, client_only]) is None


def test_this_machine_has_postgresql() -> None:
    # The machine image ships it (environment.md); the quick start would skip it otherwise.
    found = database.bin_dir()
    assert found is not None and database.has_server(found)
    assert database.server_major(found) >= 15


def test_a_user_runs_it_as_themselves() -> None:
    assert database.run_as(1000, POSTGRES, userns_works=True) == database.RunAs()


def test_root_runs_it_in_a_user_namespace_keeping_the_files() -> None:
    who = database.run_as(0, POSTGRES, userns_works=True)
    assert who.prefix == ("unshare", "--user", "--map-user=101", "--map-group=104")
    assert who.owner == (0, 0) and not who.enters_ancestors


def test_root_without_user_namespaces_hands_the_files_to_the_account() -> None:
    who = database.run_as(0, POSTGRES, userns_works=False)
    assert who.prefix == ("setpriv", "--reuid=101", "--regid=104", "--clear-groups")
    assert who.owner == (101, 104) and who.enters_ancestors


def test_root_without_an_account_to_run_as_is_refused() -> None:
    with pytest.raises(database.LocalDatabaseError, match="refuses to run as root"):
        database.run_as(0, None, userns_works=True)


def fake_stat(modes: dict[str, tuple[int, int, int]]) -> object:
    def stat_of(path: Path) -> os.stat_result:
        uid, gid, mode = modes.get(str(path), (0, 0, 0o755))
        return os.stat_result((stat.S_IFDIR | mode, 0, 0, 2, uid, gid, 0, 0, 0, 0))

    return stat_of


@pytest.mark.parametrize(
    ("modes", "blocked"),
    [
        ({}, None),
        ({"/root": (0, 0, 0o700)}, "/root"),
        ({"/root": (0, 0, 0o701)}, None),
        ({"/root": (101, 0, 0o700)}, None),  # its own
        ({"/root": (0, 104, 0o710)}, None),  # its group's
        ({"/root": (101, 0, 0o600)}, "/root"),
        ({"/root/project": (0, 0, 0o750)}, "/root/project"),
    ],
)
def test_the_first_directory_the_account_cannot_enter(
    modes: dict[str, tuple[int, int, int]], blocked: str | None
) -> None:
    path = Path("/root/project/.bootstrap-local/postgres")
    found = database.blocked_ancestor(path, 101, 104, stat=fake_stat(modes))  # type: ignore[arg-type]
    assert found == (Path(blocked) if blocked else None)


def test_the_server_listens_on_loopback_at_the_settings_port(tmp_path: Path) -> None:
    local = load_local_settings(state_dir=tmp_path, postgres_port=25432)
    command = database.command(local, Path("/pg/bin"))
    # As root, behind the prefix that drops root (privileges()).
    assert command[command.index("/pg/bin/postgres") :] == [
        "/pg/bin/postgres",
        *("-D", str(tmp_path / "postgres" / "data"), "-p", "25432"),
        *("-k", str(tmp_path / "postgres" / "run"), "-c", "listen_addresses=127.0.0.1"),
    ]


def test_a_socket_path_too_long_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    local = load_local_settings(state_dir=deep)
    with pytest.raises(database.LocalDatabaseError, match="longer than 107 bytes"):
        database.prepare(local, Path("/pg/bin"))
    assert not deep.exists()


def test_up_skips_it_with_a_note_without_binaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(database, "bin_dir", lambda: None)
    assert stack.start_postgres(load_local_settings(state_dir=tmp_path), {}) is False
    note = capsys.readouterr().err.strip()
    assert note.startswith("note: postgres: skipped") and "server stack" in note
    assert "\n" not in note
    assert not (tmp_path / "postgres").exists()


def test_services_and_their_environment_know_the_ports(tmp_path: Path) -> None:
    local = load_local_settings(state_dir=tmp_path, postgres_port=25432, server_port=4301)
    env = stack.child_env(load_settings(environment="local"), local)
    assert (env["BOOTSTRAP_LOCAL_POSTGRES_PORT"], env["BOOTSTRAP_LOCAL_SERVER_PORT"]) == (
        "25432",
        "4301",
    )
    order = stack.SERVICES
    assert order.index("moto") < order.index("postgres") < order.index("ecs-runtime")


def test_the_emulated_target_points_the_server_stack_at_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator target reads the embedded default's settings where a run finds them.
    monkeypatch.setenv("BOOTSTRAP_LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("BOOTSTRAP_LOCAL_POSTGRES_PORT", "25432")
    monkeypatch.setenv("BOOTSTRAP_LOCAL_SERVER_PORT", "4301")
    settings = load_settings(environment="local", prefect_api_auth_string="worker:x")
    target = emulated_target(settings)
    assert target.server_api_url == "http://127.0.0.1:4301/api"
    assert (target.server_port, target.database_port) == (4301, 25432)
