"""A Prefect API that rate-limits us past its client's own retries, said in one line.

Prefect's HTTP client retries a 429 by itself (`PREFECT_CLIENT_MAX_RETRIES` times, 5 by
default, waiting what `Retry-After` asks; prefect/client/base.py `_send_with_retry`). When the
retries run out it raises `PrefectHTTPStatusError` for the last 429 from whatever call made it,
deep inside a stage. This module recognises that error anywhere in an exception's chain and
turns it into `RateLimited`: which API (the orchestrator's or the worker's target), which call,
that Prefect Cloud counts requests per account, and what to do. No retries of our own: Prefect's
already waited as long as the server asked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from prefect.settings import get_current_settings

from bootstrap_flows.errors import BootstrapError

TOO_MANY_REQUESTS = 429


class RateLimited(BootstrapError):
    """A Prefect API answered 429 after Prefect's client had retried as often as it would."""


def _orchestrator_url() -> str:
    return str(get_current_settings().api.url or "").rstrip("/")


def _which_api(url: httpx.URL) -> str:
    """The orchestrator's API (where the flow runs) or the target (the worker's Prefect)."""
    orchestrator = _orchestrator_url()
    if orchestrator and str(url).startswith(orchestrator):
        return f"the orchestrator's Prefect API ({orchestrator}, PREFECT_API_URL)"
    parts = urlsplit(str(url))
    return f"the worker's Prefect API ({parts.scheme}://{parts.netloc}, BOOTSTRAP_PREFECT_API_URL)"


def describe(error: httpx.HTTPStatusError) -> RateLimited:
    """The one line for a 429 that Prefect's client gave up on."""
    request = error.request
    retries = get_current_settings().client.max_retries
    return RateLimited(
        f"rate limited: {_which_api(request.url)} answered {request.method} "
        f"{request.url.path} with HTTP 429 Too Many Requests after Prefect's client retried it "
        f"{retries} times (PREFECT_CLIENT_MAX_RETRIES). Prefect Cloud's rate limits are per "
        "account: every flow run, worker, deployment and person on the account shares one "
        "budget of API requests per minute (and one of log lines). Run this again in a few "
        "minutes; if it recurs, spread out what else calls the account (schedules, polling "
        "scripts, many environments checked at once), or raise PREFECT_CLIENT_MAX_RETRIES"
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, then what caused it (explicitly or by context), without going round a cycle."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def rate_limited(exc: BaseException) -> RateLimited | None:
    """The rate limit behind `exc`, if one is (a `RateLimited`, or a 429 Prefect gave up on)."""
    for link in _chain(exc):
        if isinstance(link, RateLimited):
            return link
        if (
            isinstance(link, httpx.HTTPStatusError)
            and link.response.status_code == TOO_MANY_REQUESTS
        ):
            return describe(link)
    return None
