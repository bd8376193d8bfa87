"""The ECS pool's unhappy paths on the embedded default: each ends in the right final state,
with the reason a person would look for in the run's state or logs.

One bootstrap of an environment of its own (`sad`) provides the pool; the flows that go wrong
on purpose are baked into the worker image (`deployments/unhappy_flows.py`) and deployed on the
pool as the e2e flow is, with job variables for a missing image tag or a missing secret. The
worker talks to the session's Prefect server. What marks a run Crashed here is prefect-aws's
ECS observer, fed with the task state changes the local ECS runtime reports as ECS does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import docker
import pytest
from prefect.client.schemas.actions import DeploymentCreate
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun, StateType, WorkPoolStatus
from prefect.states import Cancelling

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings, load_settings
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.summary import BootstrapResult
from bootstrap_flows.prefect_side import target_prefect
from bootstrap_flows.prefect_side.e2e import IMAGE_CODE_DIR
from bootstrap_local.ecs_runtime.roles import ledger_file, read_ledger
from bootstrap_local.ecs_runtime.spec import TASK_LABEL
from bootstrap_local.settings import load_local_settings
from tests.support.aws_calls import calls_by_role, recorded_calls
from tests.support.iam_grants import check_calls, current_calls, uses

pytestmark = pytest.mark.slow

# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()

ENVIRONMENT = "sad"
POOL = "sad-pool"
OVERRIDES = {"target": "emulator", "work_pool_name": POOL}
ENTRYPOINTS = "deployments/unhappy_flows.py"
RUN_TIMEOUT = 180.0
# The module whose policies the pool's roles have (its `# unrecorded` comments explain grants).
IAM_MODULE = PROJECT_ROOT / "infrastructure" / "terraform" / "modules" / "iam" / "main.tf"
T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass
class Pool:
    settings: BootstrapSettings
    result: BootstrapResult

    def deploy(
        self, name: str, flow_name: str, function: str, job_variables: dict[str, Any]
    ) -> UUID:
        """A deployment on the pool of a flow baked into the image, as bootstrap's e2e does."""
        with target_prefect.client(self.settings) as client:
            deployment = DeploymentCreate(
                flow_id=client.create_flow_from_name(flow_name),
                name=name,
                work_pool_name=POOL,
                entrypoint=f"{ENTRYPOINTS}:{function}",
                path=IMAGE_CODE_DIR,
                pull_steps=[
                    {
                        "prefect.deployments.steps.set_working_directory": {
                            "directory": IMAGE_CODE_DIR
                        }
                    }
                ],
                job_variables={"image": self.result.image.uri, **job_variables},
                tags=["unhappy-path"],
            )
            return client.create_deployment(**deployment.model_dump(exclude_unset=True))

    def start(
        self,
        name: str,
        flow_name: str,
        function: str,
        parameters: dict[str, Any] | None = None,
        **job_variables: Any,
    ) -> UUID:
        deployment_id = self.deploy(name, flow_name, function, job_variables)
        with target_prefect.client(self.settings) as client:
            run = client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
        return run.id

    def read(self, run_id: UUID) -> FlowRun:
        with target_prefect.client(self.settings) as client:
            return client.read_flow_run(run_id)

    def final(self, run_id: UUID, timeout: float = RUN_TIMEOUT) -> FlowRun:
        run = target_prefect.wait_for_flow_run(self.settings, run_id, timeout, poll_seconds=1)
        assert run.state is not None and run.state.is_final(), (
            f"run {run_id} still {run.state.name if run.state else None} after {timeout} s\n"
            + self.logs(run_id)[-3000:]
        )
        # What a person sees in the UI, in the report of a passing run (`pytest -rA`).
        logger.info("run %s ended %s: %s", run_id, run.state.name, run.state.message)
        return run

    def logs(self, run_id: UUID) -> str:
        messages: list[str] = []
        with target_prefect.client(self.settings) as client:
            while True:
                page = client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                    limit=200,
                    offset=len(messages),
                )
                messages.extend(log.message for log in page)
                if len(page) < 200:
                    return "\n".join(messages)

    def wait_for_log(self, run_id: UUID, text: str, timeout: float = 30) -> str:
        """The run's logs once they hold `text`: a worker ships its logs in batches, so a
        line can land after the state it explains."""

        def holding() -> str | None:
            logs = self.logs(run_id)
            return logs if text in logs else None

        return wait_for(holding, timeout, f"{text!r} in the logs of run {run_id}")

    def cloudwatch(self, run: FlowRun) -> list[str]:
        """The lines of the run's container in its awslogs stream (the pool's log options)."""
        task_id = self.task(run)["taskArn"].rsplit("/", 1)[-1]
        logs = aws.client(self.settings, "logs")
        events = logs.get_log_events(
            logGroupName=self.result.platform.log_group_name,
            logStreamName=f"flow-runs/prefect/{task_id}",
            startFromHead=True,
        )["events"]
        return [str(event["message"]) for event in events]

    def stopped_task(self, run: FlowRun, timeout: float = 60) -> dict[str, Any]:
        """The run's ECS task once STOPPED: the engine in it can report the run's final state
        a poll of the runtime before the container's exit stops the task."""

        def stopped() -> dict[str, Any] | None:
            task = self.task(run)
            return task if task["lastStatus"] == "STOPPED" else None

        return wait_for(stopped, timeout, f"the ECS task of run {run.id} to stop")

    def task(self, run: FlowRun) -> dict[str, Any]:
        """The ECS task the worker started for `run` (its infrastructure pid names it)."""
        assert run.infrastructure_pid, f"run {run.id} has no ECS task"
        cluster, task_arn = run.infrastructure_pid.split("::", 1)
        ecs = aws.client(self.settings, "ecs")
        return dict(ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0])


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def pool(local_stack: BootstrapSettings) -> Pool:
    result = bootstrap(environment=ENVIRONMENT, overrides=OVERRIDES)
    assert isinstance(result, BootstrapResult), result
    assert result.e2e.state == "Completed"
    return Pool(load_settings(environment=ENVIRONMENT, **OVERRIDES), result)


def test_a_flow_that_raises_ends_failed_with_its_traceback(pool: Pool) -> None:
    run = pool.final(pool.start("raises", "unhappy-raises", "unhappy_raises"))
    assert run.state is not None
    assert run.state.type == StateType.FAILED, (run.state, pool.logs(run.id)[-3000:])
    assert "DeliberateFailure" in (run.state.message or "")
    logs = pool.wait_for_log(run.id, "Traceback (most recent call last)")
    assert "DeliberateFailure: unhappy-raises: the flow raised on purpose" in logs
    assert pool.stopped_task(run)["stoppedReason"].startswith("Essential container in task exited")


def test_a_process_exiting_non_zero_ends_crashed_with_its_exit_code(pool: Pool) -> None:
    run = pool.final(pool.start("exits", "unhappy-exits", "unhappy_exits", {"exit_code": 7}))
    assert run.state is not None
    assert run.state.type == StateType.CRASHED, (run.state, pool.logs(run.id)[-3000:])
    # `prefect flow-run execute` (the container's main process) outlives the flow's process
    # and reports its exit code; the task stops with the code in its reason.
    assert (run.state.message or "").startswith("Process exited with status code: 7.")
    reason = pool.stopped_task(run)["stoppedReason"]
    assert reason.startswith("Essential container in task exited (exit code ")
    # os._exit leaves no time to ship the flow's own lines to Prefect: its output is in the
    # task's CloudWatch stream, where the awslogs driver put it.
    assert "unhappy-exits: exiting with code 7" in pool.cloudwatch(run)


def test_a_task_killed_under_its_run_ends_crashed_via_the_observer(pool: Pool) -> None:
    """The whole container dies (as on a lost host or an OOM kill of the task): nothing in it
    reports, so the ECS observer marks the run Crashed from the STOPPED event's exit code."""
    engine = docker.from_env()
    run_id = pool.start("killed", "unhappy-sleeps", "unhappy_sleeps", {"seconds": 300})
    running = wait_for(lambda: _running_with_logs(pool, run_id), RUN_TIMEOUT, "a running run")
    task_arn = str(pool.task(running)["taskArn"])
    (container,) = engine.containers.list(filters={"label": f"{TASK_LABEL}={task_arn}"})
    container.kill()
    run = pool.final(run_id, timeout=90)
    assert run.state is not None
    assert run.state.type == StateType.CRASHED, (run.state, pool.logs(run_id)[-3000:])
    assert run.state.message == (
        "The following containers stopped with a non-zero exit code: ['prefect']"
    )
    expected = "Essential container exited: Container 'prefect' exited with code 137."
    assert expected in pool.wait_for_log(run_id, expected)
    assert (
        pool.stopped_task(run)["stoppedReason"]
        == "Essential container in task exited (exit code 137)"
    )


def test_an_image_that_cannot_be_pulled_ends_crashed_with_the_pull_error(pool: Pool) -> None:
    repository = pool.result.image.uri.split("@", 1)[0]
    missing = f"{repository}:no-such-tag"
    run = pool.final(pool.start("no-image", "unhappy-raises", "unhappy_raises", image=missing))
    assert run.state is not None
    assert run.state.type == StateType.CRASHED, (run.state, pool.logs(run.id)[-3000:])
    task = pool.stopped_task(run)
    assert task["stoppedReason"].startswith(f"CannotPullContainerError: pull of {missing}: ")
    expected = f"Container image pull failed: {task['stoppedReason']}"
    assert expected in pool.wait_for_log(run.id, expected)


def _missing_secret(pool: Pool) -> str:
    """A secret ARN of the pool's account and region that names no secret."""
    secret_arn = pool.result.platform.prefect_api_secret_arn
    return secret_arn.rsplit(":", 1)[0] + ":prefect-sad-no-such-secret-AbCdEf"


def test_a_secret_that_cannot_be_read_ends_crashed_with_that_reason(pool: Pool) -> None:
    missing = _missing_secret(pool)
    run = pool.final(
        pool.start(
            "no-secret",
            "unhappy-raises",
            "unhappy_raises",
            prefect_api_auth_string_secret_arn=missing,
        )
    )
    assert run.state is not None
    assert run.state.type == StateType.CRASHED, (run.state, pool.logs(run.id)[-3000:])
    reason = str(pool.stopped_task(run)["stoppedReason"])
    assert reason == (
        "ResourceInitializationError: unable to pull secrets or registry auth: "
        f"retrieving {missing} failed: ResourceNotFoundException"
    )
    expected = f"ECS task failed to start: {reason}"
    assert expected in pool.wait_for_log(run.id, expected)


def _running_with_logs(pool: Pool, run_id: UUID) -> FlowRun | None:
    run = pool.read(run_id)
    if run.state and run.state.is_running() and "unhappy-sleeps: tick" in pool.logs(run_id):
        return run
    return None


def test_a_run_cancelled_while_its_task_runs_stops_the_task_and_ends_cancelled(
    pool: Pool,
) -> None:
    run_id = pool.start("cancelled", "unhappy-sleeps", "unhappy_sleeps", {"seconds": 300})
    running = wait_for(lambda: _running_with_logs(pool, run_id), RUN_TIMEOUT, "a running run")
    # What the UI's Cancel button does: propose Cancelling through the API.
    with target_prefect.client(pool.settings) as client:
        client.set_flow_run_state(run_id, Cancelling(message="cancelled from the test"))
    run = pool.final(run_id, timeout=90)
    assert run.state is not None
    assert run.state.type == StateType.CANCELLED, (run.state, pool.logs(run_id)[-3000:])
    assert run.state.message, run.state
    task = pool.stopped_task(running)
    assert task["desiredStatus"] == "STOPPED"
    assert "unhappy-sleeps: done" not in pool.logs(run_id)


def _worker_containers(engine: docker.DockerClient, service_task_arns: set[str]) -> list[Any]:
    found = engine.containers.list(filters={"label": TASK_LABEL})
    return [c for c in found if c.labels.get(TASK_LABEL) in service_task_arns]


def _service_tasks(pool: Pool) -> set[str]:
    ecs = aws.client(pool.settings, "ecs")
    listed = ecs.list_tasks(
        cluster=pool.result.platform.cluster_arn,
        startedBy=pool.result.worker.service_name,
        desiredStatus="RUNNING",
    )
    return set(listed["taskArns"])


def test_a_killed_worker_comes_back_and_the_run_in_flight_completes(pool: Pool) -> None:
    engine = docker.from_env()
    run_id = pool.start("outlives-worker", "unhappy-sleeps", "unhappy_sleeps", {"seconds": 40})
    wait_for(lambda: _running_with_logs(pool, run_id), RUN_TIMEOUT, "a running run")
    (killed,) = _worker_containers(engine, _service_tasks(pool))
    killed_task = killed.labels[TASK_LABEL]
    killed_at = datetime.now(UTC)
    killed.kill()

    replacement = wait_for(
        lambda: [c for c in _worker_containers(engine, _service_tasks(pool)) if c.id != killed.id],
        120,
        "a new worker task",
    )
    assert len(replacement) == 1
    ecs = aws.client(pool.settings, "ecs")
    stopped = ecs.describe_tasks(cluster=pool.result.platform.cluster_arn, tasks=[killed_task])
    assert stopped["tasks"][0]["stoppedReason"] == (
        "Essential container in task exited (exit code 137)"
    )

    def online() -> str | None:
        with target_prefect.client(pool.settings) as client:
            workers = client.read_workers_for_work_pool(POOL)
            status = client.read_work_pool(POOL).status
        fresh = [w.name for w in workers if (w.last_heartbeat_time or killed_at) > killed_at]
        return fresh[0] if fresh and status == WorkPoolStatus.READY else None

    wait_for(online, 120, "a worker heartbeat after the kill")
    # The run's task is not the worker's: it runs on and its own logs say it finished.
    run = pool.final(run_id)
    assert run.state is not None
    assert run.state.type == StateType.COMPLETED, (run.state, pool.logs(run_id)[-3000:])
    assert "unhappy-sleeps: done after 40 s" in pool.wait_for_log(run_id, "done after")


def test_every_call_made_is_granted_and_every_grant_is_used(pool: Pool) -> None:
    """Last in this module, so its recordings hold the pool's whole life: the worker service,
    the bootstrap's e2e run and every run above (and whatever else this session ran). The
    local stack's moto records each call made with a role's credentials; each one must be
    allowed by its role's policies as IAM holds them, and each grant of the pool's roles must
    be used or say in its Terraform when it is needed (tests/support/iam_grants.py)."""
    ledger = read_ledger(ledger_file(LOCAL))
    iam = aws.client(pool.settings, "iam")
    recorded = calls_by_role(recorded_calls(LOCAL.aws_endpoint), ledger)
    by_role, earlier = current_calls(iam, recorded, ledger)
    print(f"calls made under earlier roles of the same name, not checked: {earlier}")
    platform = pool.result.platform
    roles = [
        platform.execution_role_arn,
        platform.worker_task_role_arn,
        platform.flow_run_task_role_arn,
    ]
    findings = check_calls(iam, by_role, [IAM_MODULE], roles)
    assumed = uses(ledger)
    print(findings.report(assumed))  # the per-role report (`pytest -rP`)
    assert not findings.unattributed, findings.unattributed[:5]
    # Each role's credentials were handed out, so a role without calls made none.
    assert set(roles) <= set(assumed), (roles, assumed)
    # What an unhappy path tries on purpose and IAM must refuse (moto answers instead): on AWS
    # the agent reading another secret gets AccessDeniedException, not ResourceNotFound.
    refused = ("secretsmanager:GetSecretValue", _missing_secret(pool))
    assert findings.denials({refused}) == []
    denied = {(a, r) for check in findings.checks.values() for a, r, _ in check.denied}
    tried = any(
        (call.iam_action, call.params.get("SecretId")) == refused
        for call in by_role.get(platform.execution_role_arn, [])
    )
    assert refused in denied or not tried, "the execution role may read any secret"
    assert findings.unexplained(roles) == []
