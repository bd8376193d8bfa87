"""A client of the Prefect the worker talks to: the target, not the orchestrator.

bootstrap, drift-check and teardown run on one Prefect (the orchestrator: usually a server next
to the person running them). The ECS worker connects to another (the target: Prefect Cloud, a
self-hosted server, the server stack on AWS; on the embedded default the same local server).
Everything the worker sees lives on the target: the work pool, the worker's heartbeats, the
e2e deployment and its run. The orchestrator keeps what belongs to the orchestrating run:
artifacts, events, variables and locks (Prefect's own `get_client()`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient, SyncPrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import PrefectHTTPStatusError

from bootstrap_flows import call_counts
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side.rate_limit import TOO_MANY_REQUESTS, describe


class TargetPrefectError(BootstrapError):
    """The target Prefect refused us or is unusable; the message says what to fix."""


def unknown(settings: BootstrapSettings) -> TargetPrefectError | None:
    """Why no client of the worker's Prefect can be made, None when one can: with
    prefect_server=aws its URL comes from the server stack's recorded outputs, and teardown of
    an environment whose server stack was never made (or is gone) has none."""
    if resolve(settings).prefect_api_url is not None:
        return None
    return TargetPrefectError(
        "no Prefect API for the worker is known (prefect_server=aws and no server stack "
        "recorded): the server stack's Prefect, and what it held, went with its stack or never was"
    )


def _connection(settings: BootstrapSettings) -> tuple[str, str | None, str | None]:
    """The target's API URL and the worker's credential: (url, API key, auth string)."""
    target = resolve(settings)
    secret = target.prefect_credential.get_secret_value() if target.prefect_credential else None
    is_key = target.prefect_credential_variable == "PREFECT_API_KEY"
    return worker_api_url(target), secret if is_key else None, None if is_key else secret


def orchestrator_api_url() -> str:
    """The Prefect running this flow (where its artifacts, events and locks go)."""
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url or "(ephemeral)")


@contextmanager
def client(settings: BootstrapSettings) -> Iterator[SyncPrefectClient]:
    """A sync client of the target Prefect, with the worker's own credential."""
    url, key, auth = _connection(settings)
    counted = call_counts.target_httpx_settings()
    with SyncPrefectClient(url, api_key=key, auth_string=auth, httpx_settings=counted) as prefect:
        yield prefect


@asynccontextmanager
async def async_client(settings: BootstrapSettings) -> AsyncIterator[PrefectClient]:
    """An async client of the target Prefect: Prefect's block API saves and loads with one."""
    url, key, auth = _connection(settings)
    counted = call_counts.target_httpx_settings(asynchronous=True)
    async with PrefectClient(url, api_key=key, auth_string=auth, httpx_settings=counted) as prefect:
        yield prefect


def prove_credential(settings: BootstrapSettings) -> str:
    """One authenticated call on the target; return its URL, or say why it was refused.

    `/health` answers without credentials on a self-hosted server, so it proves nothing about
    the key: reading work pools needs a valid one everywhere (Cloud, basic auth).
    """
    target = resolve(settings)
    url = worker_api_url(target)
    try:
        with client(settings) as prefect:
            prefect.read_work_pools(limit=1)
    except PrefectHTTPStatusError as exc:
        status = exc.response.status_code
        if status == TOO_MANY_REQUESTS:  # the credential may be fine: the account is busy
            raise describe(exc) from exc
        if status in (401, 403):
            variable = f"BOOTSTRAP_{target.prefect_credential_variable}"
            raise TargetPrefectError(
                f"the Prefect API at {url} refused the worker's credential (HTTP {status}); "
                f"set {variable} to a valid one (a Prefect Cloud API key, or the server's "
                "`user:password` auth string)"
            ) from exc
        raise TargetPrefectError(f"the Prefect API at {url} answered HTTP {status}") from exc
    return url


# How long a wait keeps polling through server errors (5xx) in a row before it gives up: an RDS
# Multi-AZ failover takes 60-120 s, and a CPU-starved server times out on its database meanwhile.
SERVER_ERROR_GRACE_SECONDS = 120.0


def wait_for_flow_run(
    settings: BootstrapSettings,
    flow_run_id: UUID,
    timeout: float,
    poll_seconds: float = 0.5,
    error_grace: float = SERVER_ERROR_GRACE_SECONDS,
) -> FlowRun:
    """Poll the target until the run is final or `timeout` passes; return it as last seen.

    A read the server fails (5xx) is tried again at the next poll: the run goes on while its
    server has a bad moment. Errors for `error_grace` seconds in a row (or at the deadline) are
    raised with the last one as their cause; a 4xx is ours to fix and raised at once. A 429
    reaches us only after Prefect's client has retried it: `RateLimited`, at once.
    """
    deadline = time.monotonic() + timeout
    failing_since: float | None = None
    with client(settings) as prefect:
        while True:
            try:
                run = prefect.read_flow_run(flow_run_id)
                failing_since = None
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code == TOO_MANY_REQUESTS:
                    raise describe(exc) from exc
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                if exc.response.status_code < 500 or now >= min(
                    deadline, failing_since + error_grace
                ):
                    raise
                time.sleep(poll_seconds)
                continue
            if (run.state and run.state.is_final()) or time.monotonic() >= deadline:
                return run
            time.sleep(poll_seconds)


class ServerNotServing(TargetPrefectError):
    """The server stack is applied but its API does not answer with the stored auth string."""


# Seconds between calls while the server stack's Prefect starts.
SERVER_POLL_SECONDS = 3.0


def wait_until_serving(settings: BootstrapSettings, timeout: float) -> str:
    """Wait until the server answers an authenticated call; return its URL.

    Connection errors and 5xx mean it is still starting (the task pulls its image and migrates
    the database); a refused credential will not get better by waiting.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            return prove_credential(settings)
        except TargetPrefectError as exc:
            if "refused" in str(exc):
                raise ServerNotServing(
                    f"{exc}. The server reads its auth string when its task starts: after a "
                    "rotation, start a new deployment of its ECS service"
                ) from exc
            last = str(exc)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(SERVER_POLL_SECONDS)
    raise ServerNotServing(
        f"the Prefect server at {settings.prefect_api_url} did not answer within {timeout:.0f} s "
        f"({last}). Its task's log is in the platform's log group under `server/`; an internal "
        "load balancer is reachable only from the VPC and what is connected to it "
        "(BOOTSTRAP_SERVER_INTERNAL=false with BOOTSTRAP_SERVER_ALLOWED_CIDRS for a public one)"
    )
