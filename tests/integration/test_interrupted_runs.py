"""A bootstrap killed in the middle of its platform apply, and two bootstraps started at once.

The whole process tree of a `bootstrap` pool worker (worker, flow-run process, terraform and its
provider) is SIGKILLed while Terraform applies the platform, as when a machine or container is
lost: nobody is left to report the run's end. It is killed once the apply has created resources
(a VPC and an IAM role exist in AWS) that its state does not record yet: Terraform persists the
state at most every 20 s, so what an apply created in its last seconds is in AWS only. Then:

- the heartbeat automation marks the killed run Crashed within a bounded time;
- the next run says who holds the environment's lock and waits the dead holder's lease out,
  then finds Terraform's state lock left by the killed apply, sees from the holder recorded
  beside it (terraform/lock_holder.py) that its Terraform process is gone, releases it with one
  log line, adopts what the killed apply left outside the state (it logs
  `Adopting <address> <- <id>` for each and plans them as imports) and completes: no step by
  hand; AWS holds exactly what the state records: one VPC, NAT gateway, Elastic IP, API secret,
  log group and ECR repository, the roles and queues once each, no duplicates and no orphans;
- two bootstraps started at the same moment: one waits (saying who holds the lock), both find
  nothing to do;
- a state lock whose recorded holder is still alive is kept: the run stops with the command
  that releases it, as before.

Before adoption (terraform/adoption.py), measured, killed 25 s into the first apply: the state
held nothing, AWS a VPC, NAT gateway, EIP, three roles and two queues; the re-run failed with
"already exists" on the roles, the API secret, the ECR repository and the log group, and had
created a second VPC, NAT gateway and EIP.

Killing only the flow-run process would not do: the worker that started it would itself report
it Crashed. This module therefore runs its own process worker for its own pool (and its own
environment and ECS pool), so the session's `bootstrap` worker is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import LogSort
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectAlreadyExists

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.safety.locks import holder_variable
from bootstrap_flows.terraform import stacks
from bootstrap_flows.terraform.lock_holder import holder_key, process_space, process_start
from bootstrap_local import processes
from bootstrap_local import stack as local_stack
from bootstrap_local.settings import load_local_settings
from tests.support.platform_state import ACCOUNT

pytestmark = pytest.mark.slow

# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()

ENVIRONMENT = "crash"
POOL = "crash-bootstrap"  # a process pool served only by this module's workers
OVERRIDES = {"target": "emulator", "work_pool_name": "crash-pool"}
DEPLOYMENT = "bootstrap/crash"
# The automation's window (3 heartbeats of 30 s) plus the server's trigger evaluation.
CRASHED_WITHIN_SECONDS = 150
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def descendants(root: int) -> list[int]:
    """`root` and every process below it (the flow-run process starts its own session)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@dataclass
class Worker:
    settings: BootstrapSettings
    name: str

    def start(self) -> None:
        def polling() -> bool:
            with get_client(sync_client=True) as client:
                workers = client.read_workers_for_work_pool(POOL)
            return any(w.name == self.name and w.last_heartbeat_time for w in workers)

        command = [str(local_stack.BIN / "prefect"), "worker", "start", "--pool", POOL]
        processes.start(
            LOCAL.state_dir,
            self.name,
            [*command, "--type", "process", "--name", self.name],
            ready=polling,
            timeout=90,
            env=local_stack.worker_env(self.settings, LOCAL),
            cwd=PROJECT_ROOT,
        )

    def kill_everything(self) -> list[int]:
        """SIGKILL the worker and all it started, at once: a lost machine."""
        pid = processes.running_pid(LOCAL.state_dir, self.name)
        assert pid is not None, f"{self.name} is not running"
        tree = descendants(pid)
        for each in tree:
            # A short-lived child (a docker or terraform call) may end between the listing and
            # its kill: that one is gone already (a cold image build made this race likely).
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGKILL)
        processes.alive(pid)  # reaps it
        return tree

    def stop(self) -> None:
        processes.stop(LOCAL.state_dir, self.name)


def logs(run_id: UUID) -> str:
    """Every log line of a run, oldest first."""
    lines: list[str] = []
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
    with get_client(sync_client=True) as client:
        while page := client.read_logs(
            log_filter=log_filter, limit=200, offset=len(lines), sort=LogSort.TIMESTAMP_ASC
        ):
            lines += [log.message for log in page]
    return "\n".join(lines)


def state_of(run_id: UUID) -> tuple[str, str, str]:
    """(type, name, message) of a run's state."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    assert state is not None
    return state.type.value, state.name or "", state.message or ""


def wait_final(run_id: UUID, timeout: float) -> tuple[str, str, str]:
    deadline = time.monotonic() + timeout
    while (state := state_of(run_id))[0] not in FINAL:
        assert time.monotonic() < deadline, f"run {run_id} still {state} after {timeout} s"
        time.sleep(2)
    return state


def start_run() -> tuple[UUID, str]:
    flow_run = run_deployment(DEPLOYMENT, timeout=0)
    return flow_run.id, flow_run.name  # type: ignore[union-attr]


def wait_for_platform_apply(run_id: UUID, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            if any(r.name == "apply platform" and r.state and r.state.is_running() for r in runs):
                return
            assert state_of(run_id)[0] not in FINAL, logs(run_id)[-3000:]
            time.sleep(1)
    raise AssertionError(f"the platform apply of {run_id} never started")


def wait_for_terraform_lock(settings: BootstrapSettings, timeout: float = 60) -> None:
    """Until `terraform apply` holds the platform's state lock (its provider still starting)."""
    s3 = aws.client(settings, "s3")
    bucket, key = settings.state_bucket_name(ACCOUNT), "platform/crash.tfstate.tflock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"):
            return
        time.sleep(0.3)
    raise AssertionError("terraform apply never took the platform's state lock")


def wait_for_resources_outside_the_state(
    settings: BootstrapSettings, timeout: float = 120
) -> dict[str, list[str]]:
    """Until the apply has created a VPC and an IAM role that the platform's state lacks."""
    ec2, iam = aws.client(settings, "ec2"), aws.client(settings, "iam")
    tag: list[Any] = [{"Name": "tag:Environment", "Values": [ENVIRONMENT]}]
    bucket = settings.state_bucket_name(ACCOUNT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag)["Vpcs"]]
        roles = [
            r["RoleName"]
            for r in iam.list_roles()["Roles"]
            if r["RoleName"].startswith(f"{settings.stack_name}-")
        ]
        if vpcs and roles:
            state = stacks.read_state(settings, "platform", bucket)
            assert not managed(state, "aws_vpc", "id"), "the state recorded the VPC already"
            return {"aws_vpc": vpcs, "aws_iam_role": roles}
        time.sleep(0.3)
    raise AssertionError("the platform apply never created a VPC and an IAM role")


@dataclass
class Killed:
    run_id: UUID
    run_name: str
    killed_at: float
    next_run: tuple[UUID, str]
    worker: Worker
    # What AWS held at the kill that the state did not record.
    outside_the_state: dict[str, list[str]]


@pytest.fixture(scope="module")
def killed(local_stack: BootstrapSettings) -> Iterator[Killed]:
    """A bootstrap killed (whole tree) mid platform apply, and the next run, started at once."""
    settings = local_stack.model_copy(update={"environment": ENVIRONMENT, **OVERRIDES})
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    entrypoint = "bootstrap_flows/flows/bootstrap.py:bootstrap"
    Flow.from_source(str(PROJECT_ROOT), entrypoint).deploy(  # type: ignore[union-attr]
        name=ENVIRONMENT,
        work_pool_name=POOL,
        parameters={"environment": ENVIRONMENT, "overrides": OVERRIDES},
        print_next_steps=False,
        ignore_warnings=True,
    )
    lost = Worker(settings, "crash-worker-lost")
    lost.start()
    run_id, run_name = start_run()
    wait_for_platform_apply(run_id)
    wait_for_terraform_lock(settings)
    wait_for_resources_outside_the_state(settings)
    lost.kill_everything()
    killed_at = time.monotonic()
    state = recorded_in(
        stacks.read_state(settings, "platform", settings.state_bucket_name(ACCOUNT))
    )
    outside = {kind: sorted(set(ids) - set(state[kind])) for kind, ids in in_aws(settings).items()}
    assert outside["aws_vpc"] and outside["aws_iam_role"], outside  # else nothing to adopt
    print(f"at the kill, outside the state: { {k: len(v) for k, v in outside.items() if v} }")
    # The machine comes back: a new worker, and someone runs bootstrap again right away.
    worker = Worker(settings, "crash-worker")
    worker.start()
    try:
        yield Killed(run_id, run_name, killed_at, start_run(), worker, outside)
    finally:
        worker.stop()


def test_the_killed_run_is_shown_crashed(killed: Killed) -> None:
    assert state_of(killed.run_id)[1] == "Running"  # nobody is left to say otherwise
    kind, name, message = wait_final(killed.run_id, CRASHED_WITHIN_SECONDS)
    seconds = time.monotonic() - killed.killed_at
    print(f"killed run Crashed {seconds:.0f} s after the kill")
    assert (kind, name) == ("CRASHED", "Crashed")
    assert message.startswith("No heartbeat for 90 s")


def test_the_next_run_releases_the_dead_holders_lock_and_converges_without_duplicates(
    killed: Killed, local_stack: BootstrapSettings
) -> None:
    settings = local_stack.model_copy(update={"environment": ENVIRONMENT, **OVERRIDES})
    run_id, _ = killed.next_run
    kind, _, _ = wait_final(run_id, 900)
    text = logs(run_id)
    print(f"next run ended {time.monotonic() - killed.killed_at:.0f} s after the kill")
    assert kind == "COMPLETED", text[-3000:]
    assert re.search(
        rf"environment crash is locked by flow run {killed.run_name} \({killed.run_id}, "
        r"state (Running|Crashed), pid \d+ on \S+\) since .* UTC; waiting \(a holder that died "
        r"frees it within 75 s\)",
        text,
    ), text[-3000:]
    assert f"the last holder of environment crash's lock, flow run {killed.run_name} " in text
    # Terraform's lock, left by the killed apply: released by the run itself, said once.
    bucket = settings.state_bucket_name(ACCOUNT)
    released = [line for line in text.splitlines() if line.startswith("Released the ")]
    assert len(released) == 1, text[-3000:]
    assert re.fullmatch(
        r"Released the platform stack's Terraform state lock [0-9a-f-]{36} "
        rf"\(s3://{bucket}/platform/crash\.tfstate\.tflock\), taken by flow run "
        rf"{killed.run_name} \({killed.run_id}\), terraform pid \d+ on \S+ at \S+: its "
        r"process \(terraform pid \d+ on \S+\) is gone",
        released[0],
    ), released[0]
    assert "aws s3 rm" not in text  # nobody is asked to type anything
    print(released[0])
    # It took over what the killed apply left outside the state, saying so.
    # Lines of adoption itself (the dead holder's message names the form in backticks).
    adopted = re.findall(r"^Adopting (\S+) <- ", text, re.MULTILINE)
    print(f"adopted {len(adopted)} resources: {', '.join(adopted)}")
    assert "module.network.aws_vpc.this" in adopted, text[-3000:]
    assert any(address.startswith("module.iam.aws_iam_role.") for address in adopted)

    recorded = recorded_in(stacks.read_state(settings, "platform", bucket))
    singles = ("aws_vpc", "aws_nat_gateway", "aws_eip", "aws_secretsmanager_secret")
    assert all(len(recorded[kind]) == 1 for kind in singles), recorded
    assert len(recorded["aws_ecr_repository"]) == 1, recorded
    # Everything that existed at the kill is in the state now, once.
    for kind, ids in killed.outside_the_state.items():
        assert set(ids) <= set(recorded[kind]), (kind, ids, recorded[kind])
    assert in_aws(settings) == recorded


def managed(state: dict[str, Any], kind: str, attribute: str) -> list[str]:
    return sorted(
        str(instance["attributes"][attribute])
        for resource in state.get("resources") or []
        if resource.get("mode") == "managed" and resource["type"] == kind
        for instance in resource["instances"]
    )


def recorded_in(state: dict[str, Any]) -> dict[str, list[str]]:
    """What a platform state records, in the terms of `in_aws`."""
    return {
        "aws_vpc": managed(state, "aws_vpc", "id"),
        "aws_nat_gateway": managed(state, "aws_nat_gateway", "id"),
        "aws_eip": managed(state, "aws_eip", "allocation_id"),
        "aws_iam_role": managed(state, "aws_iam_role", "name"),
        "aws_sqs_queue": managed(state, "aws_sqs_queue", "url"),
        "aws_secretsmanager_secret": managed(state, "aws_secretsmanager_secret", "arn"),
        "aws_cloudwatch_log_group": managed(state, "aws_cloudwatch_log_group", "name"),
        "aws_ecr_repository": managed(state, "aws_ecr_repository", "name"),
    }


def in_aws(settings: BootstrapSettings) -> dict[str, list[str]]:
    """What the emulated account holds for the environment, found by its tags, not by state."""
    tag: list[Any] = [{"Name": "tag:Environment", "Values": [ENVIRONMENT]}]
    name = settings.stack_name
    ec2, iam, sqs = (
        aws.client(settings, "ec2"),
        aws.client(settings, "iam"),
        aws.client(settings, "sqs"),
    )
    secrets, logs_, ecr = (
        aws.client(settings, "secretsmanager"),
        aws.client(settings, "logs"),
        aws.client(settings, "ecr"),
    )
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag)["Vpcs"]]
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": vpcs}])["NatGateways"]
    roles = [
        r["RoleName"]
        for r in iam.list_roles()["Roles"]
        if {"Key": "Environment", "Value": ENVIRONMENT}
        in iam.list_role_tags(RoleName=r["RoleName"])["Tags"]
    ]
    queues = [
        url
        for url in sqs.list_queues().get("QueueUrls", [])
        if sqs.list_queue_tags(QueueUrl=url).get("Tags", {}).get("Environment") == ENVIRONMENT
    ]
    return {
        "aws_vpc": sorted(vpcs),
        "aws_nat_gateway": sorted(n["NatGatewayId"] for n in nats if n["State"] != "deleted"),
        "aws_eip": sorted(
            a["AllocationId"] for a in ec2.describe_addresses(Filters=tag)["Addresses"]
        ),
        "aws_iam_role": sorted(roles),
        "aws_sqs_queue": sorted(queues),
        "aws_secretsmanager_secret": sorted(
            secret["ARN"]
            for secret in secrets.list_secrets()["SecretList"]
            if {"Key": "Environment", "Value": ENVIRONMENT} in secret.get("Tags", [])
        ),
        "aws_cloudwatch_log_group": sorted(
            group["logGroupName"]
            for group in logs_.describe_log_groups(logGroupNamePrefix=f"/ecs/{name}")["logGroups"]
        ),
        "aws_ecr_repository": sorted(
            repository["repositoryName"]
            for repository in ecr.describe_repositories()["repositories"]
            if repository["repositoryName"].startswith(f"{name}-")
        ),
    }


def test_two_runs_at_once_one_waits_and_both_find_nothing_to_do(
    killed: Killed, local_stack: BootstrapSettings
) -> None:
    settings = local_stack.model_copy(update={"environment": ENVIRONMENT, **OVERRIDES})
    assert wait_final(killed.next_run[0], 900)[0] == "COMPLETED"
    before = in_aws(settings)

    started = time.monotonic()
    runs = [start_run(), start_run()]
    ends = [wait_final(run_id, 1200) for run_id, _ in runs]
    print(f"two runs at once: both ended {time.monotonic() - started:.0f} s after their start")
    texts = [logs(run_id) for run_id, _ in runs]
    assert [kind for kind, _, _ in ends] == ["COMPLETED", "COMPLETED"], texts[0][-2000:]
    waited = [
        i
        for i, text in enumerate(texts)
        if f"environment crash is locked by flow run {runs[1 - i][1]} " in text
    ]
    assert len(waited) == 1, "exactly one of the two waited for the other"
    for text in texts:
        assert "Platform plan has no changes: nothing to apply" in text, text[-3000:]
        assert "Adopting " not in text and "Released the " not in text
    with get_client(sync_client=True) as client:
        # The last holder removed its record; the dead one's was overwritten by the next holder.
        assert client.read_variable_by_name(holder_variable(ENVIRONMENT)) is None
    assert in_aws(settings) == before


def test_a_lock_whose_holder_is_alive_is_kept_with_the_command_to_release_it(
    killed: Killed, local_stack: BootstrapSettings
) -> None:
    """A live holder (here a process of this machine recorded as the lock's holder, as a run
    applying would be) keeps its lock: the run stops with today's message and command."""
    settings = local_stack.model_copy(update={"environment": ENVIRONMENT, **OVERRIDES})
    assert wait_final(killed.next_run[0], 900)[0] == "COMPLETED"
    s3 = aws.client(settings, "s3")
    bucket, key = settings.state_bucket_name(ACCOUNT), "platform/crash.tfstate.tflock"
    lock_id = str(uuid4())
    alive = subprocess.Popen(["sleep", "600"])
    try:
        lock = {
            "ID": lock_id,
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": "someone@elsewhere",
            "Version": "1.11.4",
            "Created": datetime.now(UTC).isoformat(),
            "Path": f"{bucket}/platform/crash.tfstate",
        }
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(lock).encode())
        holder = {
            "lock_id": lock_id,
            "pid": alive.pid,
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "process_space": process_space(),
            "process_start": process_start(alive.pid),
        }
        s3.put_object(Bucket=bucket, Key=holder_key(key), Body=json.dumps(holder).encode())
        run_id, _ = start_run()
        kind, _, _ = wait_final(run_id, 900)
        text = logs(run_id)
        assert kind == "FAILED", text[-3000:]
        assert f"is locked: lock {lock_id}, taken by someone@elsewhere" in text
        assert f"\n    aws s3 rm s3://{bucket}/{key}\n" in text, text[-3000:]
        assert f"This run did not release it: its holder, terraform pid {alive.pid} on " in text
        assert "Released the " not in text
        found = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert found["ID"] == lock_id  # still there, untouched
    finally:
        alive.kill()
        alive.wait()
        s3.delete_object(Bucket=bucket, Key=key)
