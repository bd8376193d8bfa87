"""Prefect's own cost in a flow run, read back from the API after the run.

Per stage (task run): from the moment it could start (its Pending state, or the end of the
last task run it waited for, whichever is later) to its Running state, when our code begins.
Per flow run: its duration minus the union of its task runs' lifetimes (created -> ended),
spread over its stages: the orchestration between the stages plus our flow's own glue.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.events.filters import EventAnyResourceFilter, EventFilter
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker


def covered_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of [start, end] intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def start_overhead(pending: float, running: float, upstream_ends: Iterable[float]) -> float:
    """Seconds from when a task run could start to when it was Running (never negative)."""
    ready = max([pending, *upstream_ends])
    return max(0.0, running - ready)


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


_RUN_SUFFIX = re.compile(r"-[0-9a-f]{3}$")


def _upstream_ids(task_run: Any) -> list[UUID]:
    return [
        i.id
        for inputs in (task_run.task_inputs or {}).values()
        for i in inputs
        if getattr(i, "input_type", None) == "task_run"
    ]


def flow_run_costs(flow_run_id: UUID) -> dict[str, Any]:
    """{"stages": {task run name: start overhead s}, "outside_tasks_per_stage": s, ...}."""
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )
        states = {t.id: client.read_task_run_states(t.id) for t in task_runs}
    ends = {t.id: _ts(t.end_time) for t in task_runs}
    stages: dict[str, float] = {}
    intervals: list[tuple[float, float]] = []
    for run in task_runs:
        history = sorted(states[run.id], key=lambda s: s.timestamp)
        pending = next((s.timestamp for s in history if s.type.value == "PENDING"), None)
        running = next((s.timestamp for s in history if s.type.value == "RUNNING"), None)
        end = ends[run.id]
        if pending is None or running is None or end is None:
            continue  # never ran (skipped, cancelled): nothing to measure
        upstream = [e for i in _upstream_ids(run) if (e := ends.get(i)) is not None]
        # Prefect names a task run `<task name>-<3 hex>`: one row per stage, its worst start.
        stage = _RUN_SUFFIX.sub("", run.name)
        overhead = start_overhead(pending.timestamp(), running.timestamp(), upstream)
        stages[stage] = max(overhead, stages.get(stage, 0.0))
        intervals.append((run.created.timestamp() if run.created else pending.timestamp(), end))
    start, stop = _ts(flow_run.start_time), _ts(flow_run.end_time)
    duration = (stop - start) if start is not None and stop is not None else 0.0
    outside = max(0.0, duration - covered_seconds(intervals))
    return {
        "flow_run_id": str(flow_run_id),
        "flow_seconds": round(duration, 2),
        "stages": {name: round(seconds, 3) for name, seconds in stages.items()},
        "outside_tasks": round(outside, 2),
        "outside_tasks_per_stage": round(outside / max(1, len(stages)), 3),
    }


# The most logs the API returns per read.
_LOG_PAGE = 200


def log_lines(flow_run_id: UUID | None) -> int | None:
    """How many log lines the run (its task runs' included) sent to the API: Prefect Cloud
    counts them against a per-account limit of their own."""
    if flow_run_id is None:
        return None
    APILogWorker.drain_all(timeout=5)  # the run's last lines may still wait in this process's batch
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    total = 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_logs(log_filter=log_filter, limit=_LOG_PAGE, offset=total)
            total += len(page)
            if len(page) < _LOG_PAGE:
                return total


# Events reach the server over a websocket and are stored in batches (the event persister's
# flush interval, 5 s by default): read the total until it stops growing, a few times at most.
_EVENT_READS, _EVENT_SETTLE_SECONDS = 8, 2.0


def run_events(flow_run_id: UUID | None) -> int | None:
    """How many events name the run (its state changes and its task runs', artifacts, ...): Prefect
    Cloud counts events in the same per-account bucket as log lines. In Prefect 3 a task run's
    states travel as events, not HTTP requests, so the request counts do not hold them."""
    if flow_run_id is None:
        return None
    EventsWorker.drain_all(timeout=5)
    seen = -1
    with get_client(sync_client=True) as client:
        for _ in range(_EVENT_READS):
            related = EventAnyResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"])
            total = client.read_events(EventFilter(any_resource=related), limit=1).total
            if total == seen:
                break
            seen = total
            time.sleep(_EVENT_SETTLE_SECONDS)
    return seen
