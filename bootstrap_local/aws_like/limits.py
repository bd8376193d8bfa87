"""Request and page limits as AWS applies them, for the services' patches (ecs.py, ecr.py).

moto 5.2.6 answers a list call with everything at once and takes any number of items in one
batch call. AWS serves at most a page (`maxResults`, or its default) with a `nextToken` to the
rest, and refuses a batch over its limit. Code that reads one page only, or sends every item
in one call, looks right against stock moto and misses things (or fails) on AWS.

Both wrap a moto response method (one API action), not its backend: moto calls its backend
methods from inside (put_image deletes through batch_delete_image), and AWS's limits apply to
requests only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult

Respond = Callable[[Any], ActionResult]
# The error a service answers with for a parameter out of range, given its message.
Refuse = Callable[[str], Exception]


def _offset(token: str | None, refuse: Refuse) -> int:
    """Where the page `token` (one this module handed out) starts; 0 without one."""
    if token is None:
        return 0
    head, _, offset = token.partition(":")
    if head != "aws-like-page" or not offset.isdigit():
        raise refuse(f"Invalid nextToken: {token!r}")
    return int(offset)


def paged(respond: Respond, key: str, default: int, most: int, refuse: Refuse) -> Respond:
    """`respond` answering one page of its list `key`: `maxResults` items (1 to `most`, AWS's
    `default` without it) and a nextToken while more follow."""

    @functools.wraps(respond)
    def page(response: Any) -> ActionResult:
        size = response._get_int_param("maxResults", default)
        if not 1 <= size <= most:
            raise refuse(f"maxResults must be between 1 and {most}, not {size}")
        start = _offset(response._get_param("nextToken"), refuse)
        answer = respond(response)
        body = dict(answer.result)  # type: ignore[call-overload]
        items = body[key]
        body[key] = items[start : start + size]
        body.pop("nextToken", None)
        if start + size < len(items):
            body["nextToken"] = f"aws-like-page:{start + size}"
        return ActionResult(body)

    return page


def at_most(respond: Respond, parameter: str, most: int, refuse: Refuse, message: str) -> Respond:
    """`respond` refusing a request whose list (or count) `parameter` holds over `most`."""

    @functools.wraps(respond)
    def limited(response: Any) -> ActionResult:
        given = response._get_param(parameter)
        size = len(given) if isinstance(given, list) else int(given or 0)
        if size > most:
            raise refuse(message)
        return respond(response)

    return limited


def wrap(cls: type, name: str, mark: str, make: Callable[[Respond], Respond]) -> None:
    """Replace `cls.name` by `make(cls.name)`, once per `mark`: patching again keeps the first
    (an action can carry more than one patch, each with its own mark)."""
    current = getattr(cls, name)
    marks: frozenset[str] = getattr(current, "aws_like", frozenset())
    if mark not in marks:
        made = make(current)
        made.__dict__["aws_like"] = marks | {mark}
        setattr(cls, name, made)


def stock(cls: type, name: str) -> Respond:
    """moto's own `cls.name`, under any patches of this package (for the tests that show a gap)."""
    current = getattr(cls, name)
    while getattr(current, "aws_like", None):
        current = current.__wrapped__
    return current  # type: ignore[no-any-return]
