"""The credentials of a task's roles, as ECS hands them out: each task role's to its container,
the execution role's to what the ECS agent does for the task (image pull auth, secrets, logs).

ECS assumes the roles itself; here the emulated STS's AssumeRole does, so every AWS call the
task or the agent makes is signed with keys of that role alone. ECS can assume a role only if
its trust policy lets `ecs-tasks.amazonaws.com` do so, with the conditions ECS supplies
(aws:SourceAccount, aws:SourceArn); moto's STS assumes any role for anyone, so the trust policy
is evaluated here first (bootstrap_local/iam_policy.py), and a task whose role does not trust
ECS stops with ECS's message. IAM is eventually consistent: a role created moments ago is not
yet assumable everywhere, and a task that needs it then stops with the same message (a service
tries again after its back-off, as ECS's scheduler does); moto's role is usable at once, so a
role younger than `iam_propagation_seconds` (LocalSettings) is refused here. Each key ID issued
is written to a ledger (`<state dir>/run/role-keys.jsonl`: key ID, role ARN, task ARN, what
for), so calls recorded by the emulator can be attributed to the role they were made under. The
ledger holds no secret: a key ID is not a credential.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_local.ecs_runtime.clients import AwsClients, error_code
from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.spec import task_id
from bootstrap_local.iam_policy import Request, trusts
from bootstrap_local.settings import LocalSettings

# ECS refreshes task credentials well before they expire; a cached set is renewed this early.
RENEW_BEFORE = 300.0
SESSION_SECONDS = 3600
ECS_TASKS = "ecs-tasks.amazonaws.com"


def propagated(created: datetime, seconds: float, now: datetime | None = None) -> bool:
    """Whether a role created at `created` is assumable yet, IAM taking `seconds` to propagate
    it (eventual consistency, above)."""
    return ((now or datetime.now(UTC)) - created).total_seconds() >= seconds


def unable_to_assume(role_arn: str) -> LaunchError:
    """ECS's own words for a role it cannot assume: trust left it out, or IAM has not
    propagated it yet (AWS says the same for both)."""
    return LaunchError(
        f"ECS was unable to assume the role '{role_arn}' that was provided for this task. "
        "Please verify that the role being passed has the proper trust relationship and "
        "permissions and that your IAM user has permissions to pass this role."
    )


@dataclass(frozen=True)
class RoleCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: float  # time.time() seconds

    def environment(self) -> dict[str, str]:
        """What a container's SDK reads; replaces the emulator's own keys."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def boto3(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


def task_role_arn(task: dict[str, Any], definition: dict[str, Any]) -> str | None:
    """The task role: the task's override wins over the definition's, as on ECS."""
    return (task.get("overrides") or {}).get("taskRoleArn") or definition.get("taskRoleArn")


def execution_role_arn(task: dict[str, Any], definition: dict[str, Any]) -> str | None:
    overrides = task.get("overrides") or {}
    return overrides.get("executionRoleArn") or definition.get("executionRoleArn")


def ledger_file(local: LocalSettings) -> Path:
    return local.state_dir / "run" / "role-keys.jsonl"


def read_ledger(path: Path) -> dict[str, dict[str, str]]:
    """Access key ID -> {role, task, use, issued} of every key the runtime handed out."""
    if not path.exists():
        return {}
    entries = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {entry["key"]: entry for entry in entries}


class TaskRoles:
    """Assumes task and execution roles in the emulated STS; one session per task and use."""

    def __init__(self, clients: AwsClients, ledger: Path, propagation_seconds: float) -> None:
        self.clients = clients
        self.ledger = ledger
        self.propagation_seconds = propagation_seconds
        self._cache: dict[tuple[str, str, str], RoleCredentials] = {}
        self._agent_clients: dict[str, AwsClients] = {}  # by access key ID

    def assume(self, role_arn: str, task_arn: str, use: str) -> RoleCredentials:
        """Credentials of `role_arn` for `use` ("task" or "execution") of one task."""
        key = (role_arn, task_arn, use)
        cached = self._cache.get(key)
        if cached and cached.expires - time.time() > RENEW_BEFORE:
            return cached
        self._check_trust(role_arn, task_arn)
        try:
            answer = self.clients.get("sts").assume_role(
                RoleArn=role_arn,
                # Names the task in CloudTrail, as ECS's own session names do.
                RoleSessionName=f"{use}-{task_id(task_arn)}"[:64],
                DurationSeconds=SESSION_SECONDS,
            )["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise LaunchError(
                f"ResourceInitializationError: unable to assume the {use} role {role_arn}: "
                f"{error_code(exc)}"
            ) from exc
        credentials = RoleCredentials(
            answer["AccessKeyId"],
            answer["SecretAccessKey"],
            answer["SessionToken"],
            answer["Expiration"].timestamp(),
        )
        self._cache[key] = credentials
        self._record(credentials.access_key_id, role_arn, task_arn, use)
        return credentials

    def _check_trust(self, role_arn: str, task_arn: str) -> None:
        """Refuse, as ECS does, a role whose trust policy does not let ECS assume it here, or
        that IAM has not propagated yet."""
        try:
            role = self.clients.get("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
        except (ClientError, BotoCoreError) as exc:
            raise LaunchError(
                f"ResourceInitializationError: unable to read the role {role_arn}: "
                f"{error_code(exc)}"
            ) from exc
        document = role["AssumeRolePolicyDocument"]
        if isinstance(document, str):  # as moto may serve it: JSON, URL-encoded or not
            document = json.loads(unquote(document))
        context = {"aws:SourceAccount": task_arn.split(":")[4], "aws:SourceArn": task_arn}
        if not trusts(document, ECS_TASKS, Request("sts:AssumeRole", role_arn, context)):
            raise unable_to_assume(role_arn)
        if not propagated(role["CreateDate"], self.propagation_seconds):
            raise unable_to_assume(role_arn)

    def agent_clients(self, role_arn: str | None, task_arn: str) -> AwsClients:
        """Clients for what the ECS agent does for a task: its execution role's, or the
        runtime's own when the task names none (ECS then needs none: no secrets, no ECR)."""
        if role_arn is None:
            return self.clients
        credentials = self.assume(role_arn, task_arn, "execution")
        key = credentials.access_key_id
        if key not in self._agent_clients:
            self._agent_clients[key] = AwsClients(self.clients.settings, credentials.boto3())
        return self._agent_clients[key]

    def forget(self, task_arn: str) -> None:
        for key in [k for k in self._cache if k[1] == task_arn]:
            self._agent_clients.pop(self._cache.pop(key).access_key_id, None)

    def _record(self, key_id: str, role_arn: str, task_arn: str, use: str) -> None:
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        # `issued` (epoch seconds) tells a key of this role from one of an earlier role of the
        # same name, destroyed and created again since (a teardown, then a bootstrap).
        entry = {"key": key_id, "role": role_arn, "task": task_arn, "use": use}
        entry["issued"] = f"{time.time():.3f}"
        with self.ledger.open("a") as out:
            out.write(json.dumps(entry) + "\n")
