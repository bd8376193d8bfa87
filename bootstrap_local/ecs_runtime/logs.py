"""A container's output in CloudWatch Logs, as ECS's awslogs driver would put it there.

Docker keeps the output; each pass reads what is new (by Docker's timestamps) and ships it in
batches within put_log_events' limits. Only what CloudWatch accepted counts as shipped.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_local.ecs_runtime.clients import AwsClients, error_code
from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.spec import LogTarget

logger = logging.getLogger("bootstrap_local.ecs_runtime")

# put_log_events limits: 10,000 events and 1 MiB per call, 26 bytes overhead per event.
LOG_BATCH_EVENTS = 10_000
LOG_BATCH_BYTES = 1_048_576
LOG_EVENT_OVERHEAD = 26
LOG_EVENT_MAX_BYTES = 262_144 - LOG_EVENT_OVERHEAD


def docker_time_ns(stamp: str) -> int:
    """Nanoseconds since the epoch of a Docker log timestamp (RFC 3339, UTC, up to 9 digits)."""
    main, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def parse_log_lines(raw: bytes, after_ns: int) -> list[tuple[int, str]]:
    """(timestamp ns, message) of Docker log lines (`timestamps=True`) newer than `after_ns`.

    Empty lines are dropped, as Docker's awslogs driver does (CloudWatch rejects them).
    Sorted by time (stable).
    """
    events = []
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        stamp, sep, message = line.partition(" ")
        if not sep:
            continue
        try:
            ns = docker_time_ns(stamp)
        except ValueError:
            continue
        message = message.rstrip("\r")
        if ns > after_ns and message:
            events.append((ns, message))
    # stdout and stderr come from separate streams; CloudWatch wants each batch in time order.
    return sorted(events, key=lambda event: event[0])


def log_batches(
    events: list[tuple[int, str]],
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """put_log_events batches within CloudWatch's limits (oversized messages truncated), each
    with the Docker timestamp (ns) of its last line."""
    batch: list[dict[str, Any]] = []
    size = last_ns = 0
    for ns, message in events:
        data = message.encode()[:LOG_EVENT_MAX_BYTES]
        cost = len(data) + LOG_EVENT_OVERHEAD
        if batch and (len(batch) >= LOG_BATCH_EVENTS or size + cost > LOG_BATCH_BYTES):
            yield batch, last_ns
            batch, size = [], 0
        batch.append({"timestamp": ns // 1_000_000, "message": data.decode(errors="ignore")})
        size += cost
        last_ns = ns
    if batch:
        yield batch, last_ns


class LogShipper:
    """Creates log streams and ships output to them, in whichever region the target names."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def prepare(self, target: LogTarget) -> None:
        """The stream (and, if asked, the group) exists before the container starts."""
        logs = self.clients.get("logs", target.region)
        try:
            exists = logs.exceptions.ResourceAlreadyExistsException
            if target.create_group:
                with contextlib.suppress(exists):
                    logs.create_log_group(logGroupName=target.group)
            with contextlib.suppress(exists):
                logs.create_log_stream(logGroupName=target.group, logStreamName=target.stream)
        except (ClientError, BotoCoreError) as exc:
            # ECS fails the task the same way when the log group does not exist.
            raise LaunchError(
                "ResourceInitializationError: failed to validate logger args: log group "
                f"{target.group}: {error_code(exc)}"
            ) from exc

    def ship(self, target: LogTarget, raw: bytes, after_ns: int, task_arn: str) -> int:
        """Ship the lines of `raw` newer than `after_ns`; the timestamp of the last one shipped
        (`after_ns` if none was), so what CloudWatch refused goes again next time."""
        logs = self.clients.get("logs", target.region)
        shipped = after_ns
        for batch, last_ns in log_batches(parse_log_lines(raw, after_ns)):
            try:
                logs.put_log_events(
                    logGroupName=target.group, logStreamName=target.stream, logEvents=batch
                )
            except (ClientError, BotoCoreError) as exc:
                logger.warning("could not ship logs of %s: %s", task_arn, error_code(exc))
                break
            shipped = last_ns
        return shipped
