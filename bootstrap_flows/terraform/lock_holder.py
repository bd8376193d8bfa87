"""Who holds a stack's Terraform state lock, recorded beside it, so a dead holder's lock goes.

Terraform writes the lock object (`<key>.tflock`: ID, Who, Operation, Created) itself, and
nothing in it says whether its holder still lives: Who is only `user@host`. So each command
that takes the lock records, as soon as Terraform says which lock it took (runner.py reads its
log), the holder beside it, in `<key>.tflock.holder`: the lock's ID, the Terraform process (pid,
host, the process's start time and the pid namespace it lives in) and the flow run that started
it. A run stopped by that lock releases it only when the lock object's ID is the one recorded
and that holder is known dead: its process is gone (judged only from the same pid namespace of
the same boot, where a pid means the same thing), or its flow run has ended (Crashed, Failed,
Completed, Cancelled). Anything else (no record, another lock ID, a holder on another machine
whose run may still be Running) keeps the lock and today's message with the command to type.

When the command ends its record goes with the lock: deleted once Terraform has released the
lock, and only the very record this keeper wrote (a newer holder's stays). A Terraform that was
killed leaves its lock, and its record stays beside it: that record is what lets the next run
release the lock.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.terraform.failures import LockInfo

# Prefect's final state types: a run in one of them runs no code any more.
FINAL_STATES = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")

FlowRunState = Callable[[str], str | None]
"""The state type of a flow run by its ID (None when unknown)."""


def holder_key(lock_key: str) -> str:
    """Beside Terraform's lock object, never inside it (Terraform owns its body)."""
    return f"{lock_key}.holder"


def process_space() -> str | None:
    """Where a pid means one process: this boot of this kernel, this pid namespace."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None  # no /proc (not Linux): a pid is never judged, only a flow run's state


def process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), None if there is no live one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    if fields[0] in ("Z", "X"):
        return None  # exited; only its parent has not reaped it
    return int(fields[19])


@dataclass(frozen=True)
class LockHolder:
    """The Terraform process that took lock `lock_id`, and the flow run that started it."""

    lock_id: str
    pid: int
    host: str
    since: str
    process_space: str | None = None
    process_start: int | None = None
    flow_run_id: str | None = None
    flow_run_name: str | None = None

    @classmethod
    def from_json(cls, value: object) -> LockHolder | None:
        """The record; None for anything else (hand-written, or from another version)."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(**{key: value[key] for key in value if key in cls.__dataclass_fields__})
        except TypeError:
            return None

    def describe(self) -> str:
        name = self.flow_run_name or "?"
        run = f"flow run {name} ({self.flow_run_id}), " if self.flow_run_id else ""
        return f"{run}terraform pid {self.pid} on {self.host}"


def this_run() -> tuple[str | None, str | None]:
    """The flow run this process executes (id, name), if any."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    flow_run = context.flow_run if context is not None else None
    return (str(flow_run.id), flow_run.name) if flow_run is not None else (None, None)


def prefect_flow_run_state(flow_run_id: str) -> str | None:
    """The flow run's state type on the Prefect this process talks to (None if unknown)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(UUID(flow_run_id)).state
        except ObjectNotFound:
            return None  # deleted: says nothing about its process
    return state.type.value if state is not None else None


def dead_because(
    holder: LockHolder, flow_run_state: FlowRunState, here: str | None
) -> tuple[bool, str]:
    """(dead?, why): the holder is dead only when that is certain."""
    if here is not None and holder.process_space == here:
        # Same boot, same pid namespace: the pid decides alone; a process of that pid that
        # started at another time is another process (the pid was reused).
        start = process_start(holder.pid)
        if start is not None and holder.process_start in (None, start):
            return False, f"its holder, {holder.describe()}, is still running"
        return True, f"its process (terraform pid {holder.pid} on {holder.host}) is gone"
    if holder.flow_run_id is None:
        return False, f"its holder, {holder.describe()}, ran elsewhere and may still run"
    state = flow_run_state(holder.flow_run_id)
    if state in FINAL_STATES:
        return True, f"its flow run is {state.capitalize()}"
    return False, (
        f"its holder, {holder.describe()}, ran elsewhere and its flow run is "
        f"{(state or 'unknown').capitalize()}: it may still be alive"
    )


class StateLockKeeper:
    """The lock keeper (runner.LockKeeper) of one stack's state in one environment's bucket."""

    def __init__(
        self,
        settings: BootstrapSettings,
        stack: str,
        bucket: str,
        state_key: str,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        flow_run_state: FlowRunState = prefect_flow_run_state,
    ) -> None:
        self.settings = settings
        self.stack = stack
        self.bucket = bucket
        self.lock_key = f"{state_key}.tflock"  # where `use_lockfile` puts it
        self.logger = logger
        self.flow_run_state = flow_run_state
        # The lock ID and ETag of the record this keeper wrote for the running command.
        self._recorded: tuple[str, str] | None = None

    def record(self, lock_id: str, pid: int) -> None:
        flow_run_id, flow_run_name = this_run()
        holder = LockHolder(
            lock_id=lock_id,
            pid=pid,
            host=socket.gethostname(),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
            process_space=process_space(),
            process_start=process_start(pid),
            flow_run_id=flow_run_id,
            flow_run_name=flow_run_name,
        )
        body = json.dumps(asdict(holder), indent=2).encode()
        written = aws.client(self.settings, "s3").put_object(
            Bucket=self.bucket, Key=holder_key(self.lock_key), Body=body
        )
        self._recorded = (lock_id, written["ETag"])

    def ended(self) -> None:
        """The command has ended: delete its record, unless its lock is still held (Terraform
        was killed) or the record is no longer the one written here (a newer holder's)."""
        recorded, self._recorded = self._recorded, None
        if recorded is None:
            return
        lock_id, etag = recorded
        s3 = aws.client(self.settings, "s3")
        if _read_json(s3, self.bucket, self.lock_key).get("ID") == lock_id:
            return  # still locked: the record says who holds it, for the next run to judge
        try:
            s3.delete_object(Bucket=self.bucket, Key=holder_key(self.lock_key), IfMatch=etag)
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "NoSuchKey", "404"):
                raise

    def release_if_dead(self, lock: LockInfo) -> str | None:
        del lock  # the lock object itself is read: it may have changed since Terraform's error
        s3 = aws.client(self.settings, "s3")
        try:
            found = s3.get_object(Bucket=self.bucket, Key=self.lock_key)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None  # released since: nothing to do but try again
            return f"its lock object could not be read ({exc})"
        lock_id = str(_json(found["Body"].read()).get("ID", "?"))
        try:
            holder = LockHolder.from_json(_read_json(s3, self.bucket, holder_key(self.lock_key)))
        except ClientError as exc:
            return f"the record of who took it could not be read ({exc})"
        if holder is None:
            return "nothing records who took it (terraform run by hand, or an older bootstrap)"
        if holder.lock_id != lock_id:
            return (
                f"it is not the lock recorded beside it ({holder.lock_id}, taken by "
                f"{holder.describe()}): someone else took it, maybe by hand"
            )
        try:
            dead, why = dead_because(holder, self.flow_run_state, process_space())
        except Exception as exc:
            return f"whether its holder, {holder.describe()}, still runs is unknown ({exc})"
        if not dead:
            return why
        try:
            # Only the very object read: a lock taken again since is someone else's.
            s3.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=found["ETag"])
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            return f"its holder is dead ({why}), but releasing it failed ({exc})"
        self.logger.warning(
            "Released the %s stack's Terraform state lock %s (s3://%s/%s), taken by %s at %s: %s",
            self.stack,
            lock_id,
            self.bucket,
            self.lock_key,
            holder.describe(),
            holder.since,
            why,
        )
        return None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """An object of the state bucket as JSON ({} when there is none or it is not JSON)."""
    try:
        return _json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if _code(exc) not in ("NoSuchKey", "404"):
            raise
        return {}
