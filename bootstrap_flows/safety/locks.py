"""Locks that keep two runs of one environment (or two builds of one base image) apart.

The environment lock is the Prefect global concurrency limit `bootstrap-<env>` (one slot), held
with a lease the holder renews in the background. A holder that dies stops renewing: the server
frees the slot once the lease runs out, so a lock left behind never blocks for long. The lease
is taken through the client's lease API rather than `prefect.concurrency.sync.concurrency`, so a
waiting run can speak up between tries (that context manager only waits silently, or times out
and logs each time-out as an error). Prefect has no public API that lists a limit's holders, so
the holder writes who it is into the Prefect Variable `bootstrap-lock-<env>`, and a run that has
to wait says whom it waits for.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError

# Short, so a dead holder frees the slot soon (a live one renews it, see below).
LEASE_SECONDS = 60
# How often the server looks for expired leases (Prefect's default repossessor loop).
_REPOSSESSOR_SECONDS = 15
FREED_WITHIN = LEASE_SECONDS + _REPOSSESSOR_SECONDS
# Renewing at a third of the lease leaves two more tries before it runs out.
_RENEW_EVERY_SECONDS = LEASE_SECONDS / 3
# How often a waiting run asks for the slot, and says again who holds it.
_POLL_SECONDS = 5.0
_SAY_EVERY_SECONDS = 30.0
# The server's answer while the slot is taken.
HTTP_LOCKED = 423


class LockError(BootstrapError):
    """The environment lock cannot work as configured; the message says how to fix it."""


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes of this machine (released when the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def limit_name(environment: str) -> str:
    return f"bootstrap-{environment}"


def holder_variable(environment: str) -> str:
    return f"bootstrap-lock-{environment}"


@dataclass(frozen=True)
class Holder:
    """Who holds an environment's lock: a flow run (or a plain process), where, since when."""

    host: str
    pid: int
    since: datetime
    flow_run_id: str | None = None
    flow_run_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id,
            "flow_run_name": self.flow_run_name,
            "host": self.host,
            "pid": self.pid,
            "since": self.since.isoformat(timespec="seconds"),
        }

    @classmethod
    def from_json(cls, value: object) -> Holder | None:
        """The recorded holder; None for anything else (a hand-edited or foreign Variable)."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(
                host=str(value["host"]),
                pid=int(value["pid"]),
                since=datetime.fromisoformat(str(value["since"])),
                flow_run_id=value.get("flow_run_id"),
                flow_run_name=value.get("flow_run_name"),
            )
        except (KeyError, TypeError, ValueError):
            return None


def this_holder() -> Holder:
    """This process, and the flow run it executes if any."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    flow_run = context.flow_run if context is not None else None
    return Holder(
        host=socket.gethostname(),
        pid=os.getpid(),
        since=datetime.now(UTC),
        flow_run_id=str(flow_run.id) if flow_run is not None else None,
        flow_run_name=flow_run.name if flow_run is not None else None,
    )


def describe_wait(environment: str, holder: Holder | None, state: str | None = None) -> str:
    """What a run that waits for the environment's lock says (pure: the holder is read apart)."""
    wait = f"waiting (a holder that died frees it within {FREED_WITHIN} s)"
    if holder is None:
        return (
            f"environment {environment} is locked by a holder that did not record itself (it "
            f"has just taken the lock, or runs an older bootstrap-flows); {wait}"
        )
    since = f"since {holder.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    where = f"pid {holder.pid} on {holder.host}"
    if holder.flow_run_id is None:
        return f"environment {environment} is locked by process {where} {since}; {wait}"
    text = (
        f"environment {environment} is locked by flow run {holder.flow_run_name} "
        f"({holder.flow_run_id}, state {state or 'unknown'}, {where}) {since}; {wait}"
    )
    if state in ("Crashed", "Failed", "Completed", "Cancelled"):
        # The server frees the slot only when the lease runs out; say why the wait goes on.
        text += f"; that run has ended ({state}), so its lease is no longer renewed"
    return text


def describe_dead_holder(environment: str, holder: Holder, state: str | None = None) -> str:
    """What a run says when the lock it took was last held by a run that never released it."""
    who = (
        f"flow run {holder.flow_run_name} ({holder.flow_run_id}, state {state or 'unknown'})"
        if holder.flow_run_id
        else f"process pid {holder.pid} on {holder.host}"
    )
    return (
        f"the last holder of environment {environment}'s lock, {who}, took it at "
        f"{holder.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC and never released it: its process "
        "died. If it died during a Terraform apply, Terraform's state lock is left too (this run "
        "releases it, as the lock's recorded holder is dead), and what that apply created in its "
        "last 20 s is not in the state (Terraform saves it at most every 20 s): this run's plan "
        "adopts it (`Adopting <address> <- <id>` in its log) instead of creating it twice."
    )


def _say_if_the_last_holder_died(environment: str, holder: Holder) -> None:
    # A holder removes its record before it frees the slot: one still there outlived its writer.
    last, state = read_holder(environment)
    if last is not None:
        _logger().warning(describe_dead_holder(environment, last, state))


def _logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def read_holder(environment: str) -> tuple[Holder | None, str | None]:
    """The recorded holder of the environment's lock and its flow run's state name, if known."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        variable = client.read_variable_by_name(holder_variable(environment))
        holder = Holder.from_json(variable.value if variable is not None else None)
        if holder is None or holder.flow_run_id is None:
            return holder, None
        try:
            flow_run = client.read_flow_run(UUID(holder.flow_run_id))
        except ObjectNotFound:
            return holder, "deleted"
    return holder, flow_run.state.name if flow_run.state else None


def _record(environment: str, holder: Holder) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate, VariableUpdate

    name, value = holder_variable(environment), holder.to_json()
    with get_client(sync_client=True) as client:
        if client.read_variable_by_name(name) is None:
            client.create_variable(VariableCreate(name=name, value=value, tags=["bootstrap"]))
        else:
            client.update_variable(VariableUpdate(name=name, value=value))


def _forget(environment: str, holder: Holder) -> None:
    """Remove the record, unless a later holder (ours expired) has written its own since."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    name = holder_variable(environment)
    with get_client(sync_client=True) as client:
        variable = client.read_variable_by_name(name)
        if variable is not None and variable.value == holder.to_json():
            with contextlib.suppress(ObjectNotFound):
                client.delete_variable_by_name(name)


def _try_to_take(environment: str, holder: Holder) -> UUID | None:
    """The lease on the environment's slot, or None while someone else holds it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.exceptions import PrefectHTTPStatusError

    lease_holder = (
        ConcurrencyLeaseHolder(type="flow_run", id=UUID(holder.flow_run_id))
        if holder.flow_run_id
        else None
    )
    with get_client(sync_client=True) as client:
        try:
            response = client.increment_concurrency_slots_with_lease(
                names=[limit_name(environment)],
                slots=1,
                mode="concurrency",
                lease_duration=LEASE_SECONDS,
                holder=lease_holder,
            )
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code == HTTP_LOCKED:
                return None
            raise
    granted = response.json()
    if not granted.get("limits"):
        # A disabled limit grants nothing and holds nothing: there would be no lock at all.
        raise LockError(
            f"the concurrency limit {limit_name(environment)} that keeps two bootstraps of "
            f"{environment} apart is disabled; enable it: "
            f"prefect global-concurrency-limit enable {limit_name(environment)}"
        )
    return UUID(granted["lease_id"])


def _take(environment: str, holder: Holder) -> UUID:
    """Wait for the environment's slot, saying every half minute who holds it."""
    said: float | None = None
    while True:
        lease_id = _try_to_take(environment, holder)
        if lease_id is not None:
            return lease_id
        if said is None or time.monotonic() - said >= _SAY_EVERY_SECONDS:
            _logger().warning(describe_wait(environment, *read_holder(environment)))
            said = time.monotonic()
        time.sleep(_POLL_SECONDS)


@contextlib.contextmanager
def _renewed(environment: str, lease_id: UUID) -> Iterator[None]:
    """Keep the lease alive while the body runs; release it after.

    A renewal that fails is only reported: stopping a run in the middle of a Terraform apply
    would leave the very state lock and half-applied stack this lock exists to prevent, and
    Terraform's own lock still guards the state.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    stop = threading.Event()
    logger = _logger()

    def renew() -> None:
        with get_client(sync_client=True) as client:
            while not stop.wait(_RENEW_EVERY_SECONDS):
                try:
                    client.renew_concurrency_lease(lease_id, lease_duration=LEASE_SECONDS)
                except Exception as exc:
                    logger.error(
                        "could not renew the lease on the lock of environment %s (%s): if it "
                        "runs out, another bootstrap of %s may start",
                        environment,
                        exc,
                        environment,
                    )

    renewer = threading.Thread(target=renew, name=f"lease-{environment}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=5)
        with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
            client.release_concurrency_slots_with_lease(lease_id)


@contextlib.contextmanager
def environment_lock(settings: BootstrapSettings) -> Iterator[None]:
    """One bootstrap/teardown per environment at a time (Terraform's state lock is the second).

    Waits as long as the lock is held, saying every half minute who holds it; a holder that
    died stops renewing its lease, so the wait ends within `FREED_WITHIN` seconds of its death.
    """
    from prefect.client.orchestration import get_client

    environment = settings.environment
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(limit_name(environment), limit=1)
    holder = this_holder()
    lease_id = _take(environment, holder)
    with _renewed(environment, lease_id):
        # `since` is when the slot was taken, not when the wait began.
        holder = replace(holder, since=datetime.now(UTC))
        _bookkeep(_say_if_the_last_holder_died, environment, holder)
        _bookkeep(_record, environment, holder)
        try:
            yield
        finally:
            _bookkeep(_forget, environment, holder)


def _bookkeep(step: Callable[[str, Holder], None], environment: str, holder: Holder) -> None:
    """The record only explains a wait: failing to write it must not fail (or hide) the run."""
    try:
        step(environment, holder)
    except Exception as exc:
        _logger().warning(
            "could not update %s (who holds the lock of %s): %s",
            holder_variable(environment),
            environment,
            exc,
        )
