"""Each task runs with its own role's credentials, and the agent's work is done under the
execution role: every call the emulator records is attributed to the role that made it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap_local.ecs_runtime.roles import ledger_file, read_ledger
from bootstrap_local.iam_policy import decide
from tests.support.aws_calls import calls_by_role, recorded_calls, request_of, start_recording
from tests.support.ecs_runtime import Emulated, Runtime, wait_for
from tests.support.samples import ecs_trust
from tests.support.servers import moto_server

TRUST = ecs_trust()


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    """The test's own moto; its recording (request bodies: secret values) stays in tmp_path."""
    recording = {"MOTO_RECORDER_FILEPATH": str(tmp_path / "moto-recording.jsonl")}
    with moto_server(tmp_path / "moto.log", managed_policies=True, env=recording) as url:
        yield url


PRINT_KEY = ["python3", "-c", "import os; print('key', os.environ['AWS_ACCESS_KEY_ID'])"]


def _roles_secret_and_definition(
    aws: Emulated,
    probe_image: str,
) -> tuple[dict[str, str], str, str]:
    """Two roles, a secret and a task definition naming all three."""
    roles = {name: aws.role(name, TRUST) for name in ("probe-execution", "probe-task")}
    secret = aws.secrets.create_secret(Name="probe-secret", SecretString="s3cr3t-value")["ARN"]
    aws.logs.create_log_group(logGroupName="probe-roles")
    definition = aws.ecs.register_task_definition(
        family="roles",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        executionRoleArn=roles["probe-execution"],
        taskRoleArn=roles["probe-task"],
        containerDefinitions=[
            {
                "name": "roles",
                "image": probe_image,
                "memory": 512,
                "command": PRINT_KEY,
                "secrets": [{"name": "SECRET", "valueFrom": secret}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "probe-roles", "awslogs-stream-prefix": "p"},
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return roles, secret, definition


@pytest.mark.slow
def test_task_and_agent_calls_are_made_under_their_own_roles(
    aws: Emulated,
    runtime: Runtime,
    probe_image: str,
    endpoint: str,
) -> None:
    roles, secret, definition = _roles_secret_and_definition(aws, probe_image)
    start_recording(endpoint)
    runtime.start()
    arn = aws.run_task(definition)
    task = wait_for(lambda: aws.stopped(arn), 60, "the task to run and stop")
    assert task["stoppedReason"] == "Essential container in task exited (exit code 0)"

    ledger = read_ledger(ledger_file(runtime.local))
    issued = {(entry["role"], entry["use"]): key for key, entry in ledger.items()}
    task_key = issued[(roles["probe-task"], "task")]
    execution_key = issued[(roles["probe-execution"], "execution")]
    stream = f"p/roles/{arn.rsplit('/', 1)[-1]}"
    events = aws.logs.get_log_events(logGroupName="probe-roles", logStreamName=stream)["events"]
    assert [e["message"] for e in events] == [f"key {task_key}"]  # the container's own key

    by_role = calls_by_role(recorded_calls(endpoint), ledger)
    agent = {call.iam_action for call in by_role[roles["probe-execution"]]}
    assert {
        "secretsmanager:GetSecretValue",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    } <= agent, agent
    assert execution_key != task_key
    # Each agent call is allowed by a policy of the iam module's shape, and one missing
    # statement shows up as a denied call.
    account = aws.account
    secrets_and_logs = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret},
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:us-east-1:{account}:log-group:probe-roles:log-stream:*",
            },
        ],
    }
    requests = [request_of(call, account) for call in by_role[roles["probe-execution"]]]
    assert [r for r in requests if not decide([secrets_and_logs], r)] == []
    without_logs = {**secrets_and_logs, "Statement": secrets_and_logs["Statement"][:1]}
    denied = {r.action for r in requests if not decide([without_logs], r)}
    assert denied == {"logs:CreateLogStream", "logs:PutLogEvents"}
    # Nothing the agent does for a task is made with the runtime's own keys.
    unassumed = {call.iam_action for call in by_role["(unassumed)"]}
    assert not unassumed & agent, unassumed


@pytest.mark.slow
def test_a_task_role_whose_trust_leaves_out_ecs_stops_the_task_as_ecs_does(
    aws: Emulated,
    runtime: Runtime,
    probe_image: str,
) -> None:
    """ECS assumes a task role only if its trust policy lets ecs-tasks.amazonaws.com; moto's
    STS would hand anyone its keys (tests/unit/local/test_moto_iam.py)."""
    lambda_only = {
        **TRUST,
        "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}],
    }
    role = aws.role("lambda-only", lambda_only)
    definition = aws.task_definition(
        "untrusted", probe_image, task_role_arn=role, command=PRINT_KEY
    )
    runtime.start()
    arn = aws.run_task(definition)
    task = wait_for(lambda: aws.stopped(arn), 60, "the task to stop")
    said = f"ECS was unable to assume the role '{role}' that was provided"
    assert task["stoppedReason"].startswith(said), task["stoppedReason"]
    assert read_ledger(ledger_file(runtime.local)) == {}  # no key was issued for it


@pytest.mark.slow
def test_a_role_iam_has_not_propagated_yet_stops_the_task_and_serves_a_later_one(
    aws: Emulated,
    runtime: Runtime,
    probe_image: str,
) -> None:
    """IAM is eventually consistent: ECS cannot assume a role created moments ago (moto's STS
    can at once). A long propagation here, so the first task meets it however loaded the
    machine is."""
    propagation = 20.0
    runtime.env["BOOTSTRAP_LOCAL_IAM_PROPAGATION_SECONDS"] = str(propagation)
    runtime.start()
    role = aws.role("fresh", TRUST, propagation=0)
    definition = aws.task_definition("fresh", probe_image, task_role_arn=role, command=PRINT_KEY)
    early = aws.run_task(definition)
    task = wait_for(lambda: aws.stopped(early), 60, "the early task to stop")
    said = f"ECS was unable to assume the role '{role}' that was provided"
    assert task["stoppedReason"].startswith(said), task["stoppedReason"]
    assert read_ledger(ledger_file(runtime.local)) == {}
    # Once IAM has propagated it, the same task definition runs under the role.
    aws.propagated("fresh", propagation)
    later = aws.run_task(definition)
    task = wait_for(lambda: aws.stopped(later), 60, "the later task to end")
    assert [c.get("exitCode") for c in task["containers"]] == [0], task
    assert [entry["role"] for entry in read_ledger(ledger_file(runtime.local)).values()] == [role]
