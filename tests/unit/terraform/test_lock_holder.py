"""A dead holder's Terraform state lock is released; one that may be alive is kept.

The lock object and the holder record beside it are real objects in moto's S3; the holder's
process is a real process (alive, or exited and reaped). Only a flow run's state is given, as
the Prefect server would answer it. The last test kills a real `terraform apply` holding the lock
of a real S3 backend (moto on a port) and plans again through the runner.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.terraform import stacks
from bootstrap_flows.terraform.failures import LockInfo, StateLocked, TerraformError
from bootstrap_flows.terraform.lock_holder import (
    LockHolder,
    StateLockKeeper,
    holder_key,
    process_space,
    process_start,
)
from bootstrap_flows.terraform.runner import Terraform
from tests.support.servers import moto_in_process
from tests.support.session import FIXTURES

BUCKET = "prefect-dev-tfstate-123456789012"
STATE = "platform/dev.tfstate"
LOCK = f"{STATE}.tflock"
LOCK_ID = "5df5a77b-0b9d-c3a2-5bd6-4d33ac1b8b79"
OTHER_ID = "0b5d6c1e-5c0e-4a44-9d1b-1f0e2f3a4b5c"  # a lock taken since
CRASHED_RUN = "6f1c5d1e-0000-4000-8000-000000000001"
LOGGER = logging.getLogger("lock-holder-test")
# What Terraform's error said (the keeper reads the object itself: it may have changed since).
INFO = LockInfo(
    LOCK_ID, f"{BUCKET}/{STATE}", "OperationTypeApply", "root@box", "1.11.4", None, "S3: PutObject"
)


def settings_for(**more: Any) -> BootstrapSettings:
    return load_settings(
        environment="dev",
        prefect_api_url="https://prefect.example.invalid/api",
        prefect_api_auth_string="user:pass",
        **more,
    )


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = aws.client(settings_for(), "s3")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def take_lock(s3: Any, lock_id: str = LOCK_ID) -> None:
    """The lock object as Terraform 1.11 writes it (recorded from a real apply)."""
    body = {
        "ID": lock_id,
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "root@box",
        "Version": "1.11.4",
        "Created": "2026-12-06T23:28:43.712780815Z",
        "Path": f"{BUCKET}/{STATE}",
    }
    s3.put_object(Bucket=BUCKET, Key=LOCK, Body=json.dumps(body).encode())


def keeper(states: dict[str, str] | None = None) -> StateLockKeeper:
    return StateLockKeeper(
        settings_for(), "platform", BUCKET, STATE, LOGGER, lambda run: (states or {}).get(run)
    )


def locked(s3: Any) -> bool:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=LOCK).get("Contents", [])
    return any(o["Key"] == LOCK for o in listed)


def write_holder(s3: Any, **fields: Any) -> None:
    holder = {"lock_id": LOCK_ID, "pid": 1, "host": "box", "since": "2026-12-06T23:28:43+00:00"}
    s3.put_object(Bucket=BUCKET, Key=holder_key(LOCK), Body=json.dumps(holder | fields).encode())


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def test_a_holder_whose_process_is_gone_loses_its_lock_with_one_line(
    s3: Any, sleeper: subprocess.Popen[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    take_lock(s3)
    keeper().record(LOCK_ID, sleeper.pid)  # what the runner records once Terraform holds it
    recorded = LockHolder.from_json(
        json.loads(s3.get_object(Bucket=BUCKET, Key=holder_key(LOCK))["Body"].read())
    )
    assert recorded is not None and recorded.process_start == process_start(sleeper.pid)
    sleeper.kill()
    sleeper.wait()  # reaped: no process of that pid any more
    caplog.set_level(logging.INFO)
    assert keeper().release_if_dead(INFO) is None
    assert not locked(s3)
    (line,) = [r.getMessage() for r in caplog.records if "Released" in r.getMessage()]
    assert line == (
        f"Released the platform stack's Terraform state lock {LOCK_ID} (s3://{BUCKET}/{LOCK}), "
        f"taken by terraform pid {sleeper.pid} on {recorded.host} at {recorded.since}: its "
        f"process (terraform pid {sleeper.pid} on {recorded.host}) is gone"
    )


def test_a_holder_whose_process_runs_keeps_its_lock_and_the_command_is_given(
    s3: Any, sleeper: subprocess.Popen[bytes]
) -> None:
    take_lock(s3)
    # Even a Crashed flow run: its Terraform still runs here, so the lock is still in use.
    write_holder(
        s3,
        pid=sleeper.pid,
        process_space=process_space(),
        process_start=process_start(sleeper.pid),
        flow_run_id=CRASHED_RUN,
    )
    kept = keeper({CRASHED_RUN: "CRASHED"}).release_if_dead(INFO)
    assert kept is not None and kept.endswith("is still running")
    assert locked(s3)
    message = str(StateLocked("platform", INFO, kept))
    assert f"\n    aws s3 rm s3://{BUCKET}/{LOCK}\n" in message
    assert message.endswith(f"This run did not release it: {kept}.")


def test_a_pid_now_used_by_another_process_is_a_dead_holder(s3: Any) -> None:
    take_lock(s3)
    # This very pid, but started at another time than the recorded holder: the pid was reused.
    start = process_start(os.getpid())
    assert start is not None
    write_holder(s3, pid=os.getpid(), process_space=process_space(), process_start=start - 1)
    assert keeper().release_if_dead(INFO) is None
    assert not locked(s3)


def test_a_lock_nobody_recorded_is_kept(s3: Any) -> None:
    take_lock(s3)
    kept = keeper().release_if_dead(INFO)
    assert kept == "nothing records who took it (terraform run by hand, or an older bootstrap)"
    assert locked(s3)


def test_a_lock_other_than_the_recorded_one_is_kept(s3: Any) -> None:
    take_lock(s3, lock_id=OTHER_ID)  # taken since the record
    write_holder(s3, pid=2**22 + 1, process_space=process_space())  # a dead process
    kept = keeper().release_if_dead(INFO)
    assert kept is not None and kept.startswith(f"it is not the lock recorded beside it ({LOCK_ID}")
    assert locked(s3)


@pytest.mark.parametrize(
    ("state", "released"),
    [("CRASHED", True), ("FAILED", True), ("RUNNING", False), ("PAUSED", False), (None, False)],
)
def test_a_holder_elsewhere_is_judged_by_its_flow_run(
    s3: Any, state: str | None, released: bool
) -> None:
    take_lock(s3)
    states = {CRASHED_RUN: state} if state else {}
    write_holder(
        s3, process_space="another-boot/pid:[1]", flow_run_id=CRASHED_RUN, flow_run_name="otter"
    )
    kept = keeper(states).release_if_dead(INFO)
    assert (kept is None) == released
    assert locked(s3) != released
    if not released:
        assert kept is not None and kept.endswith("it may still be alive")


def test_a_holder_elsewhere_without_a_flow_run_is_kept(s3: Any) -> None:
    take_lock(s3)
    write_holder(s3, process_space="another-boot/pid:[1]")
    assert keeper().release_if_dead(INFO) == (
        "its holder, terraform pid 1 on box, ran elsewhere and may still run"
    )


def test_a_lock_taken_again_while_its_holder_is_judged_is_kept(s3: Any) -> None:
    take_lock(s3)
    write_holder(s3, process_space="another-boot/pid:[1]", flow_run_id=CRASHED_RUN)

    def crashed_but_retaken(run: str) -> str:
        # Between reading the lock and releasing it, a new holder takes the key again.
        take_lock(s3, lock_id=OTHER_ID)
        return "CRASHED"

    kept = StateLockKeeper(
        settings_for(), "platform", BUCKET, STATE, LOGGER, crashed_but_retaken
    ).release_if_dead(INFO)
    assert kept is not None and "releasing it failed" in kept and "PreconditionFailed" in kept
    assert locked(s3)


def holder_record(s3: Any) -> LockHolder | None:
    """The holder record beside the lock, None when there is none."""
    if not s3.list_objects_v2(Bucket=BUCKET, Prefix=holder_key(LOCK)).get("KeyCount"):
        return None
    return LockHolder.from_json(
        json.loads(s3.get_object(Bucket=BUCKET, Key=holder_key(LOCK))["Body"].read())
    )


# After `record`, what happened to the lock by the time the command ended, and the record left.
ENDINGS = {
    # Terraform released it (having succeeded or failed): the record goes.
    "released": (lambda s3: s3.delete_object(Bucket=BUCKET, Key=LOCK), None),
    # Terraform was killed: the lock stays, and so does who held it, for the next run to judge.
    "still held": (lambda s3: None, LOCK_ID),
    # Released, and taken again by another run, which recorded itself: its record stays.
    "taken again": (
        lambda s3: (take_lock(s3, lock_id=OTHER_ID), write_holder(s3, lock_id=OTHER_ID)),
        OTHER_ID,
    ),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_record_goes_when_its_command_ends_unless_its_lock_stays_or_is_another_holders(
    s3: Any, sleeper: subprocess.Popen[bytes], ending: str
) -> None:
    then, left = ENDINGS[ending]
    take_lock(s3)
    ours = keeper()
    ours.record(LOCK_ID, sleeper.pid)
    then(s3)
    ours.ended()
    kept = holder_record(s3)
    assert (kept.lock_id if kept else None) == left


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    with moto_in_process() as url:
        yield url


def test_a_killed_apply_leaves_a_lock_the_next_plan_releases(
    moto_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(target="emulator", aws_endpoint_url=moto_endpoint)
    s3 = aws.client(settings, "s3")
    s3.create_bucket(Bucket=BUCKET)
    stack = tmp_path / "platform"
    shutil.copytree(FIXTURES / "locked_stack", stack)
    terraform = Terraform(
        stack,
        tmp_path / "work",
        env=aws.aws_environment(settings),
        lock_keeper=StateLockKeeper(settings, "platform", BUCKET, STATE, LOGGER),
    )
    config = stacks.backend_config(settings, BUCKET, "platform")
    terraform.init(config)
    var_file = tmp_path / "vars.json"
    # Long enough that, on a loaded machine, the apply is still running when it is killed
    # (with 20 s it once ended first and the test failed); the kill comes as soon as the lock
    # is seen, so this costs nothing.
    var_file.write_text(json.dumps({"seconds": 90}))
    plan = terraform.plan(var_file=var_file)
    assert holder_record(s3) is None  # the plan released its lock: its record went with it
    failed: list[BaseException] = []

    def apply() -> None:
        try:
            terraform.apply(plan)
        except TerraformError as exc:
            failed.append(exc)

    applying = threading.Thread(target=apply)
    applying.start()
    # Wait for the apply's own record: its lock's ID recorded beside the lock.
    deadline = time.monotonic() + 60
    holder: LockHolder | None = None
    while holder is None:
        assert time.monotonic() < deadline, "the apply never recorded who holds its lock"
        time.sleep(0.2)
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=holder_key(LOCK)).get("KeyCount")
        if not listed or not locked(s3):
            continue
        lock_id = json.loads(s3.get_object(Bucket=BUCKET, Key=LOCK)["Body"].read())["ID"]
        body = s3.get_object(Bucket=BUCKET, Key=holder_key(LOCK))["Body"].read()
        recorded = LockHolder.from_json(json.loads(body))
        # Terraform's own lock, and its ID recorded beside it.
        holder = recorded if recorded is not None and recorded.lock_id == lock_id else None
    os.kill(holder.pid, signal.SIGKILL)  # terraform itself: it cannot release its lock
    applying.join(timeout=60)
    assert failed and locked(s3)

    caplog.set_level(logging.INFO)
    replanned = terraform.plan(var_file=var_file)  # stopped by the lock, releases it, plans
    assert replanned.has_changes
    released = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Released")]
    assert len(released) == 1 and f"terraform pid {holder.pid} " in released[0]
    assert released[0].endswith("is gone")
