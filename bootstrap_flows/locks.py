"""Locks that keep two runs of one environment (or two builds of one base image) apart."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from bootstrap_flows.settings import BootstrapSettings


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


@contextlib.contextmanager
def environment_lock(settings: BootstrapSettings) -> Iterator[None]:
    """One bootstrap/teardown per environment at a time (Terraform's state lock is the second)."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    name = f"bootstrap-{settings.environment}"
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, limit=1)
    with concurrency(name, occupy=1, strict=True):
        yield
