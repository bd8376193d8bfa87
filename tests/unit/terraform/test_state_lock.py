"""Terraform's "Error acquiring the state lock", recorded from Terraform 1.11 on an S3 lockfile,
becomes one message: whose lock, since when, why it is most likely stale, how to release it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bootstrap_flows.terraform.failures import (
    StateLocked,
    TerraformError,
    describe_state_lock,
    parse_lock_info,
)
from bootstrap_flows.terraform.runner import EventStream, Terraform, parse_events
from tests.support.session import FIXTURES

NOW = datetime(2025, 1, 2, 3, 29, 5, tzinfo=UTC)


def locked_errors() -> list[str]:
    stream = EventStream(logging.getLogger("t"))
    for event in parse_events((FIXTURES / "events" / "plan_locked.jsonl").read_text().splitlines()):
        stream.handle(event)
    return stream.errors


def test_the_lock_info_block_is_read_field_by_field() -> None:
    (error,) = locked_errors()
    lock = parse_lock_info(error)
    assert lock is not None
    assert (lock.id, lock.path, lock.operation, lock.who, lock.version) == (
        "0b5d6c1e-5c0e-4a44-9d1b-1f0e2f3a4b5c",
        "state-bkt/platform/crash.tfstate",
        "OperationTypeApply",
        "root@box",
        "1.11.4",
    )
    assert lock.created == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert lock.release_command == "aws s3 rm s3://state-bkt/platform/crash.tfstate.tflock"


def test_the_message_names_holder_time_reason_and_the_exact_command() -> None:
    lock = parse_lock_info(locked_errors()[0])
    assert lock is not None
    message = describe_state_lock("platform", lock, now=NOW)
    assert message.startswith(
        "the platform stack's Terraform state state-bkt/platform/crash.tfstate is locked: "
        "lock 0b5d6c1e-5c0e-4a44-9d1b-1f0e2f3a4b5c, taken by root@box for a terraform apply "
        "(Terraform 1.11.4) since 2025-01-02 03:04:05 UTC (25 min ago)."
    )
    assert "no other bootstrap or teardown of this environment is applying" in message
    assert "\n    aws s3 rm s3://state-bkt/platform/crash.tfstate.tflock\n" in message
    assert "-lock=false" not in message  # Terraform's only hint is the one not to follow
    # A killed apply may have created what the state does not record yet: said, not hidden.
    assert "can leave those of its last 20 s out of the state" in message


def test_a_young_lock_is_aged_in_seconds() -> None:
    lock = parse_lock_info(locked_errors()[0])
    assert lock is not None
    young = datetime(2025, 1, 2, 3, 5, 12, tzinfo=UTC)
    assert "since 2025-01-02 03:04:05 UTC (67 s ago)" in describe_state_lock(
        "platform", lock, young
    )


def test_a_lock_left_by_a_plan_changed_nothing() -> None:
    text = locked_errors()[0].replace("OperationTypeApply", "OperationTypePlan")
    lock = parse_lock_info(text)
    assert lock is not None
    message = describe_state_lock("platform", lock, now=NOW)
    assert "for a terraform plan" in message
    assert message.endswith("and run bootstrap again: it plans against the state as it is.")


def test_a_lock_elsewhere_is_released_with_terraforms_own_command() -> None:
    text = locked_errors()[0].replace("S3: PutObject", "DynamoDB: PutItem")
    lock = parse_lock_info(text)
    assert lock is not None
    assert (
        lock.release_command == "terraform force-unlock -force 0b5d6c1e-5c0e-4a44-9d1b-1f0e2f3a4b5c"
    )


def test_a_lock_without_a_readable_time_still_reads() -> None:
    text = locked_errors()[0].replace("2025-01-02 03:04:05.123456789 +0000 UTC", "soon")
    lock = parse_lock_info(text)
    assert lock is not None and lock.created is None
    assert "at an unknown time" in describe_state_lock("worker", lock)


@pytest.mark.parametrize(
    "text",
    [
        "Resource precondition failed at main.tf:19: Asked to fail.",
        "Error acquiring the state lock: timeout while reaching the bucket",  # no Lock Info
    ],
)
def test_other_errors_are_not_a_lock(text: str) -> None:
    assert parse_lock_info(text) is None


def test_a_failed_command_on_a_locked_state_raises_state_locked(tmp_path: Path) -> None:
    terraform = Terraform(Path("stacks/platform"), tmp_path)
    failure = terraform._fail("plan", locked_errors())
    assert isinstance(failure, StateLocked) and isinstance(failure, TerraformError)
    assert failure.stack == "platform"
    assert failure.lock.id == "0b5d6c1e-5c0e-4a44-9d1b-1f0e2f3a4b5c"
    assert "aws s3 rm s3://state-bkt/platform/crash.tfstate.tflock" in str(failure)
