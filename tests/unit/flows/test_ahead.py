"""When test runs made ahead of the plans may stand for a re-run (flows/ahead.py)."""

from __future__ import annotations

from bootstrap_flows.flows.ahead import unused_because

IMAGE = "123.dkr.ecr.us-east-1.amazonaws.com/prefect-dev-worker@sha256:aa"
QUIET = {"work pool": "unchanged", "API secret": "unchanged", "s3-bucket/x": "unchanged"}
NOTHING_APPLIED = {"platform": False, "worker": False}


def test_runs_stand_when_nothing_they_rest_on_changed() -> None:
    assert unused_because(IMAGE, IMAGE, NOTHING_APPLIED, QUIET) is None


def test_no_runs_ahead_is_a_reason() -> None:
    assert unused_because(None, IMAGE, NOTHING_APPLIED, QUIET) == "none ran ahead"


def test_every_change_is_named() -> None:
    reason = unused_because(
        IMAGE,
        IMAGE.replace("aa", "bb"),
        {"platform": False, "worker": True},
        QUIET | {"work pool": "updated", "s3-bucket/x": "created"},
    )
    assert reason is not None
    assert "worker stack applied" in reason
    assert "platform" not in reason
    assert f"is not {IMAGE}" in reason
    assert "work pool updated" in reason and "s3-bucket/x created" in reason
    assert "API secret" not in reason


def test_a_secret_update_alone_is_enough() -> None:
    changed = QUIET | {"API secret": "updated"}
    assert unused_because(IMAGE, IMAGE, NOTHING_APPLIED, changed) == "API secret updated"
