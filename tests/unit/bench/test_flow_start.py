"""The flow-run start case's pure parts: the breakdown, the runtime's lines, the table."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bench.flow_start import _breakdown, _runtime_marks, table

ARN = "arn:aws:ecs:us-east-1:123456789012:task/c/abc"


def test_the_parts_follow_one_another_and_the_pull_is_taken_out_of_the_start() -> None:
    states = {"SCHEDULED": 100.0, "PENDING": 103.0, "RUNNING": 112.0}
    marks = {"using": 103.5, "creating": 103.6, "created": 104.0}
    runtime = {"pull_seconds": 0.5, "container_running": 105.0}

    got = _breakdown(100.0, states, marks, runtime)

    assert got == {
        "total": 12.0,
        "pickup": 3.0,
        "task_definition": 0.5,
        "run_task": 0.4,
        "image_pull": 0.5,
        "container_start": 0.5,
        "engine_start": 7.0,
    }


def test_a_missing_mark_leaves_its_part_unknown() -> None:
    got = _breakdown(100.0, {"PENDING": 101.0}, {}, {})
    assert got["pickup"] == 1.0
    assert got["total"] is None and got["engine_start"] is None and got["image_pull"] is None


def test_the_runtime_lines_of_the_task_and_no_other(tmp_path: Path) -> None:
    log = tmp_path / "ecs-runtime.log"
    name = "bootstrap_local.ecs_runtime.runtime"
    log.write_text(
        f"2026-12-07 05:00:00,250 INFO {name}: task {ARN}x image ready in 9.000 s\n"
        f"2026-12-07 05:00:01,000 INFO {name}: task {ARN} image ready in 0.125 s\n"
        f"2026-12-07 05:00:01,500 INFO {name}: task {ARN} runs in container c1\n"
    )

    got = _runtime_marks(log, ARN)

    running = datetime(2026, 12, 7, 5, 0, 1, 500000).astimezone().timestamp()
    assert got == {"pull_seconds": 0.125, "container_running": running}
    assert _runtime_marks(tmp_path / "none.log", ARN) == {}


def test_the_table_sets_the_first_run_apart_and_counts_new_revisions() -> None:
    run = {"total": 10.0, "pickup": 2.0, "registered": False}
    repetition = {
        "image": {"compressed_bytes": 93_000_000},
        "revisions_before": 0,
        "revisions_after": 1,
        "runs": [run | {"total": 14.0, "registered": True}, run, run | {"total": 12.0}],
    }

    text = table([repetition])

    assert "| first run (n=1) | 14.00 | 2.00 |" in text
    assert "| later runs (n=2) | 11.00 | 2.00 |" in text
    assert "revisions added: 1 (1 registrations in 3 runs)" in text
    assert "[93000000]" in text
    assert table([]) == ""
