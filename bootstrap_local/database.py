"""PostgreSQL standing in for RDS: one local server answers for every emulated RDS instance.

moto records RDS instances but runs no database. The local stack runs one PostgreSQL from this
machine's server binaries, data in `<state dir>/postgres/data`, listening on 127.0.0.1 at
`postgres_port` (the port the emulated instances are created with) and on a socket in
`<state dir>/postgres/run`. The superuser logs in over that socket only (its directory is ours,
mode 0700); every other user logs in over TCP with a password, as on RDS. The local ECS runtime
makes each instance's master user and database here before a task that names it starts
(`ecs_runtime/rds_standin.py`).

PostgreSQL refuses to run as root. As root, its binaries run in a user namespace where our
uid is an unprivileged one (the state directory stays ours, wherever it is); where user
namespaces are not allowed, they run as the `postgres` (or `nobody`) account, which then owns
`<state dir>/postgres` and must be able to enter every directory above it.
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bootstrap_flows.errors import ServiceError
from bootstrap_local import processes
from bootstrap_local.settings import LocalSettings

SERVICE = "postgres"
SUPERUSER = "postgres"
DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
# The superuser over our own socket only; everyone else with a password over TCP, as on RDS.
PG_HBA = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
# The accounts PostgreSQL runs as when we are root, in order of preference.
UNPRIVILEGED_ACCOUNTS = ("postgres", "nobody")
# Linux's limit on a socket's path (sun_path less its final NUL).
MAX_SOCKET_PATH = 107
MISSING_NOTE = (
    "postgres: skipped, no PostgreSQL server binaries found (pg_config --bindir, "
    f"{DEBIAN_BIN_DIRS}); the server stack cannot run locally without them"
)


class LocalDatabaseError(ServiceError):
    """The local PostgreSQL cannot be prepared; the message says why and where to look."""


# --- the binaries --------------------------------------------------------------------------


def has_server(path: Path) -> bool:
    return (path / "postgres").is_file() and (path / "initdb").is_file()


def _version(path: Path) -> tuple[int, ...] | None:
    name = path.parent.name
    if not re.fullmatch(r"\d+(\.\d+)*", name):
        return None
    return tuple(int(part) for part in name.split("."))


def newest_first(bin_dirs: Iterable[Path]) -> list[Path]:
    """`<prefix>/<version>/bin` directories, highest version first; others left out."""
    versioned = [(found, path) for path in bin_dirs if (found := _version(path)) is not None]
    return [path for _, path in sorted(versioned, reverse=True)]


def first_server_dir(candidates: Iterable[Path | None]) -> Path | None:
    """The first candidate holding both `postgres` and `initdb`."""
    return next((path for path in candidates if path is not None and has_server(path)), None)


def _pg_config_bindir() -> Path | None:
    try:
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found.stdout.strip()) if found.stdout.strip() else None


def bin_dir() -> Path | None:
    """Where the PostgreSQL server binaries are: `pg_config --bindir`, else Debian's newest."""
    debian = newest_first(Path("/").glob(DEBIAN_BIN_DIRS.lstrip("/")))
    return first_server_dir([_pg_config_bindir(), *debian])


def server_major(bins: Path) -> int:
    """The major version of the server binaries (what a data directory must match)."""
    answer = subprocess.run(
        [str(bins / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    found = re.search(r"\(PostgreSQL\) (\d+)", answer.stdout)
    if not found:
        raise LocalDatabaseError(f"{bins / 'postgres'} --version: unexpected {answer.stdout!r}")
    return int(found.group(1))


# --- where it lives ------------------------------------------------------------------------


def home(local: LocalSettings) -> Path:
    return local.state_dir / "postgres"


def data_dir(local: LocalSettings) -> Path:
    return home(local) / "data"


def socket_dir(local: LocalSettings) -> Path:
    return home(local) / "run"


# --- who it runs as ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunAs:
    """How the server binaries are started: a command prefix, and who must own their files."""

    prefix: tuple[str, ...] = ()
    owner: tuple[int, int] | None = None  # (uid, gid) of `<state dir>/postgres`; None: leave it
    account: str | None = None  # the unprivileged account it runs as, for error messages
    enters_ancestors: bool = False  # whether that account must enter the state dir's parents


def userns_prefix(account: pwd.struct_passwd) -> tuple[str, ...]:
    return ("unshare", "--user", f"--map-user={account.pw_uid}", f"--map-group={account.pw_gid}")


def run_as(euid: int, account: pwd.struct_passwd | None, userns_works: bool) -> RunAs:
    """As root, an unprivileged uid: in a user namespace mapping it to root (the files stay
    root's), else the account itself (setpriv), which then owns the files."""
    if euid != 0:
        return RunAs()
    if account is None:
        raise LocalDatabaseError(
            "PostgreSQL refuses to run as root and none of the accounts "
            f"{', '.join(UNPRIVILEGED_ACCOUNTS)} exists to run it as; run as another user"
        )
    if userns_works:
        return RunAs(userns_prefix(account), (0, 0), account.pw_name)
    uid, gid = account.pw_uid, account.pw_gid
    setpriv = ("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups")
    return RunAs(setpriv, (uid, gid), account.pw_name, enters_ancestors=True)


def _unprivileged_account() -> pwd.struct_passwd | None:
    for name in UNPRIVILEGED_ACCOUNTS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _works(command: tuple[str, ...]) -> bool:
    try:
        return subprocess.run([*command, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def privileges() -> RunAs:
    """Who the server binaries run as here (probed once per process)."""
    euid = os.geteuid()
    if euid != 0:
        return RunAs()
    account = _unprivileged_account()
    return run_as(euid, account, userns_works=bool(account and _works(userns_prefix(account))))


def blocked_ancestor(
    path: Path, uid: int, gid: int, stat: Callable[[Path], os.stat_result] = os.stat
) -> Path | None:
    """The first directory above `path` that `uid`/`gid` (no other groups) cannot enter."""
    for parent in reversed(path.parents):
        mode = stat(parent)
        if mode.st_uid == uid:
            bit = 0o100
        elif mode.st_gid == gid:
            bit = 0o010
        else:
            bit = 0o001
        if not mode.st_mode & bit:
            return parent
    return None


def _check_reachable(local: LocalSettings, who: RunAs) -> None:
    if not (who.enters_ancestors and who.owner):
        return
    blocked = blocked_ancestor(home(local).resolve(), *who.owner)
    if blocked is not None:
        raise LocalDatabaseError(
            f"PostgreSQL refuses to run as root and runs as {who.account} here (user namespaces "
            f"are not allowed), but {who.account} cannot enter {blocked}; set "
            "BOOTSTRAP_LOCAL_STATE_DIR to a directory it can reach, or allow user namespaces"
        )


def _own(path: Path, owner: tuple[int, int] | None) -> None:
    """Give the tree at `path` to `owner` unless it already has it (root only)."""
    if owner is None or not path.exists():
        return
    found = path.stat()
    if (found.st_uid, found.st_gid) == owner:
        return
    os.chown(path, *owner)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), *owner)


# --- preparing and running -----------------------------------------------------------------


def _initdb(local: LocalSettings, bins: Path, who: RunAs) -> None:
    """A fresh cluster, made beside `data` and moved there only once it is complete."""
    fresh = home(local) / "data.initdb"
    shutil.rmtree(fresh, ignore_errors=True)
    log = processes.log_file(local.state_dir, SERVICE)
    command = [
        *who.prefix,
        str(bins / "initdb"),
        *("-D", str(fresh), "-U", SUPERUSER, "-E", "UTF8", "--locale=C"),
        *("--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"),
    ]
    with log.open("ab") as out:
        done = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=home(local), check=False
        )
    if done.returncode != 0:
        raise LocalDatabaseError(f"initdb exited with code {done.returncode}; see {log}")
    (fresh / "pg_hba.conf").write_text(PG_HBA)
    _own(fresh / "pg_hba.conf", who.owner)
    fresh.rename(data_dir(local))


def _check_version(local: LocalSettings, bins: Path) -> None:
    made_by = (data_dir(local) / "PG_VERSION").read_text().strip()
    major = server_major(bins)
    if made_by != str(major):
        raise LocalDatabaseError(
            f"{data_dir(local)} was made by PostgreSQL {made_by}, the binaries in {bins} are "
            f"PostgreSQL {major}; remove that directory (its databases are lost) "
            f"or install PostgreSQL {made_by}"
        )


def prepare(local: LocalSettings, bins: Path) -> None:
    """Make the data directory on first start (initdb); check it fits the binaries after."""
    socket = socket_dir(local) / f".s.PGSQL.{local.postgres_port}"
    if len(str(socket)) > MAX_SOCKET_PATH:
        raise LocalDatabaseError(
            f"the socket path {socket} is longer than {MAX_SOCKET_PATH} bytes; "
            "set BOOTSTRAP_LOCAL_STATE_DIR to a shorter path"
        )
    who = privileges()
    _check_reachable(local, who)
    for path in (home(local), socket_dir(local)):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
    _own(home(local), who.owner)
    if not (data_dir(local) / "PG_VERSION").is_file():
        _initdb(local, bins, who)
    _check_version(local, bins)


def command(local: LocalSettings, bins: Path) -> list[str]:
    """The server in the foreground: what the local stack starts and stops by PID."""
    return [
        *privileges().prefix,
        str(bins / "postgres"),
        *("-D", str(data_dir(local)), "-p", str(local.postgres_port)),
        *("-k", str(socket_dir(local)), "-c", "listen_addresses=127.0.0.1"),
    ]


def ready(local: LocalSettings, bins: Path) -> bool:
    """Whether a PostgreSQL accepts connections on the port (pg_isready: no login needed)."""
    port = str(local.postgres_port)
    check = [str(bins / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", port, "-t", "2"]
    try:
        return subprocess.run(check, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
