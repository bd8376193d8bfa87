"""What a run waiting for its environment's lock says (pure: the holder record is given)."""

from __future__ import annotations

from datetime import UTC, datetime

from bootstrap_flows.safety.locks import (
    FREED_WITHIN,
    Holder,
    describe_dead_holder,
    describe_wait,
    holder_variable,
    limit_name,
)

SINCE = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
RUN = Holder(
    host="box",
    pid=4242,
    since=SINCE,
    flow_run_id="6f1c5d1e-0000-4000-8000-000000000001",
    flow_run_name="brave-otter",
)


def test_names_per_environment() -> None:
    assert (limit_name("dev"), holder_variable("dev")) == ("bootstrap-dev", "bootstrap-lock-dev")


def test_the_record_survives_a_round_trip_through_the_variable() -> None:
    assert Holder.from_json(RUN.to_json()) == RUN
    assert RUN.to_json()["since"] == "2025-01-02T03:04:05+00:00"


def test_a_foreign_or_broken_record_is_no_holder() -> None:
    assert Holder.from_json(None) is None
    assert Holder.from_json("someone") is None
    assert Holder.from_json({"host": "box", "pid": "x", "since": "2025-01-02"}) is None
    assert Holder.from_json({"host": "box"}) is None


def test_a_flow_run_holder_is_named_with_its_state_and_the_wait_is_bounded() -> None:
    assert describe_wait("crash", RUN, "Running") == (
        "environment crash is locked by flow run brave-otter "
        "(6f1c5d1e-0000-4000-8000-000000000001, state Running, pid 4242 on box) "
        f"since 2025-01-02 03:04:05 UTC; waiting (a holder that died frees it within "
        f"{FREED_WITHIN} s)"
    )


def test_a_holder_that_has_ended_is_said_to_no_longer_renew() -> None:
    text = describe_wait("crash", RUN, "Crashed")
    assert "state Crashed" in text
    assert text.endswith("that run has ended (Crashed), so its lease is no longer renewed")


def test_a_plain_process_or_an_unrecorded_holder() -> None:
    process = Holder(host="box", pid=7, since=SINCE)
    assert describe_wait("dev", process).startswith(
        "environment dev is locked by process pid 7 on box since 2025-01-02 03:04:05 UTC; waiting"
    )
    assert "did not record itself" in describe_wait("dev", None)


def test_a_record_left_behind_is_a_holder_that_died_and_what_it_may_have_left() -> None:
    text = describe_dead_holder("crash", RUN, "Crashed")
    assert text.startswith(
        "the last holder of environment crash's lock, flow run brave-otter "
        "(6f1c5d1e-0000-4000-8000-000000000001, state Crashed), took it at 2025-01-02 03:04:05 "
        "UTC and never released it: its process died."
    )
    assert "Terraform's state lock is left too" in text
    assert "adopts it" in text
