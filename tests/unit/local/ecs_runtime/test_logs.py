"""Docker's timestamped output -> CloudWatch put_log_events batches within its limits."""

from __future__ import annotations

from bootstrap_local.ecs_runtime.logs import (
    LOG_BATCH_EVENTS,
    docker_time_ns,
    log_batches,
    parse_log_lines,
)


def test_docker_log_lines_parse_and_batch() -> None:
    assert docker_time_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert docker_time_ns("1970-01-01T00:00:02Z") == 2_000_000_000
    raw = (
        b"1970-01-01T00:00:01.000000001Z first\n"
        b"1970-01-01T00:00:01.000000002Z \r\n"
        b"1970-01-01T00:00:02.123456789Z second\r\n"
        b"not a log line\n"
    )
    assert parse_log_lines(raw, 0) == [(1_000_000_001, "first"), (2_123_456_789, "second")]
    assert parse_log_lines(raw, 1_000_000_001) == [(2_123_456_789, "second")]
    events = [(i * 1_000_000, "x" * 200_000) for i in range(12)]
    batches = list(log_batches(events))
    assert sum(len(batch) for batch, _ in batches) == 12
    assert all(sum(len(e["message"]) + 26 for e in batch) <= 1_048_576 for batch, _ in batches)
    assert batches[-1][1] == 11 * 1_000_000
    huge = list(log_batches([(1, "y" * 300_000)]))
    assert len(huge[0][0][0]["message"]) == 262_144 - 26


def test_stdout_and_stderr_come_out_in_time_order() -> None:
    raw = (
        b"2024-05-01T10:00:02.000000000Z later on stdout\n"
        b"2024-05-01T10:00:01.000000000Z earlier on stderr\n"
        b"2024-05-01T10:00:02.000000000Z same time, kept after\n"
    )
    assert [message for _, message in parse_log_lines(raw, 0)] == [
        "earlier on stderr",
        "later on stdout",
        "same time, kept after",
    ]


def test_undecodable_bytes_do_not_lose_the_line() -> None:
    raw = b"1970-01-01T00:00:03Z caf\xe9\n"
    assert parse_log_lines(raw, 0) == [(3_000_000_000, "caf\ufffd")]


def test_batches_hold_at_most_ten_thousand_events_in_milliseconds() -> None:
    events = [(i * 1_000, "m") for i in range(LOG_BATCH_EVENTS + 1)]
    batches = list(log_batches(events))
    assert [len(batch) for batch, _ in batches] == [LOG_BATCH_EVENTS, 1]
    assert batches[0][1] == (LOG_BATCH_EVENTS - 1) * 1_000
    assert batches[1][0] == [{"timestamp": 10, "message": "m"}]  # 10,000,000 ns in ms
    assert list(log_batches([])) == []
