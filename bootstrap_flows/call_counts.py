"""Counting the calls a process makes: Prefect HTTP requests per API, AWS API calls per service.

Prefect Cloud limits requests per account per minute, and AWS throttles per account too; the
benchmark records what one bootstrap, re-run and drift-check cost in both. Off unless switched
on, and then nothing is installed: no hook, no wrapper, no check on any call.

- Prefect, the worker's target: an httpx request hook on the target's clients
  (`target_prefect.client`), passed through Prefect's own `httpx_settings`. It runs once per
  attempt (Prefect's retries call httpx again), which is what a rate limit counts.
- Prefect, the orchestrator: Prefect's engine, log and artifact calls make clients of their own
  (`get_client()`), with no setting that reaches them all, so the counter wraps httpx's
  transports and counts what goes to PREFECT_API_URL and was not the target's.
- AWS: botocore's `before-send` event on each client made while counting (once per attempt,
  retries included). Terraform's calls happen in its own (Go) process and are not seen here.

A process started with BOOTSTRAP_COUNT_CALLS=<dir> (a flow run a worker starts) counts from the
import of any flow and writes `<dir>/<pid>.json` when it exits.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ENVIRONMENT_VARIABLE = "BOOTSTRAP_COUNT_CALLS"
TARGET, ORCHESTRATOR = "target", "orchestrator"
# Marks a request the target's hook counted, so the transport does not count it again.
_COUNTED = "bootstrap_counted"

_lock = threading.Lock()
_prefect: Counter[str] | None = None
_aws: Counter[str] = Counter()
_originals: dict[str, Any] = {}


def counting() -> bool:
    return _prefect is not None


def start() -> None:
    """Count from now on (idempotent); the counts start at zero."""
    global _prefect
    with _lock:
        _prefect = Counter()
        _aws.clear()
    _wrap_transports()


def take() -> dict[str, dict[str, int]]:
    """The counts since `start` or the last `take`, and start again from zero."""
    with _lock:
        prefect = dict(_prefect or {})
        aws = dict(_aws)
        if _prefect is not None:
            _prefect.clear()
        _aws.clear()
    return {"prefect": prefect, "aws": aws}


def stop() -> None:
    """Stop counting and put httpx's transports back as they were."""
    global _prefect
    with _lock:
        _prefect = None
        _aws.clear()
    if _originals:
        setattr(*_SYNC, _originals.pop("sync"))
        setattr(*_ASYNC, _originals.pop("async"))


def _add(counter: Counter[str] | None, key: str) -> None:
    if counter is not None:
        with _lock:
            counter[key] += 1


# --- Prefect -----------------------------------------------------------------------------------


def _count_target(request: httpx.Request) -> None:
    request.extensions[_COUNTED] = True
    _add(_prefect, TARGET)


async def _count_target_async(request: httpx.Request) -> None:
    _count_target(request)


def target_httpx_settings(asynchronous: bool = False) -> dict[str, Any] | None:
    """What the target's clients pass as Prefect's `httpx_settings`: None when not counting."""
    if not counting():
        return None
    hook = _count_target_async if asynchronous else _count_target
    return {"event_hooks": {"request": [hook]}}


def _orchestrator_request(request: httpx.Request) -> None:
    if request.extensions.get(_COUNTED):
        return
    from prefect.settings import get_current_settings

    api = str(get_current_settings().api.url or "")
    if api and str(request.url).startswith(api.rstrip("/")):
        _add(_prefect, ORCHESTRATOR)


_SYNC = (httpx.HTTPTransport, "handle_request")
_ASYNC = (httpx.AsyncHTTPTransport, "handle_async_request")


def _wrap_transports() -> None:
    if _originals:
        return
    sync = _originals["sync"] = httpx.HTTPTransport.handle_request
    asynchronous = _originals["async"] = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        _orchestrator_request(request)
        return sync(self, request)

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        _orchestrator_request(request)
        return await asynchronous(self, request)

    # setattr: mypy refuses assigning to a method, which is the point here.
    setattr(*_SYNC, handle_request)
    setattr(*_ASYNC, handle_async_request)


# --- AWS ---------------------------------------------------------------------------------------


def _count_aws(event_name: str, **_: Any) -> None:
    # before-send.<service id>.<operation>
    _add(_aws if counting() else None, event_name.split(".")[1])


def watch_aws_client(client: Any) -> None:
    """Count the calls of a boto3 client made while counting (aws_side.clients does this)."""
    if counting():
        client.meta.events.register("before-send", _count_aws)


# --- A process of its own ----------------------------------------------------------------------


def from_environment() -> None:
    """Count in this process when BOOTSTRAP_COUNT_CALLS names a directory; write at exit."""
    directory = os.environ.get(ENVIRONMENT_VARIABLE)
    if not directory or counting():
        return
    start()
    atexit.register(write, Path(directory) / f"{os.getpid()}.json")


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(take(), sort_keys=True))
