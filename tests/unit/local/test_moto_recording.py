"""The embedded default's moto records the calls made with assumed roles' keys, and only those
(tests/support/aws_calls.py attributes them; the emulator's own calls carry secrets in their
bodies)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap_local import moto_server
from tests.support.aws_calls import parse_entry
from tests.support.servers import moto_client, recording_moto

EMULATOR_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto in this process, recording role calls to tmp_path."""
    with recording_moto(monkeypatch, tmp_path / "calls.jsonl") as url:
        yield url


def client(endpoint: str, service: str, keys: dict[str, str]) -> Any:
    return moto_client(endpoint, service, keys, "us-east-1")


def test_only_calls_signed_by_an_assumed_role_are_recorded_without_their_token(
    endpoint: str, tmp_path: Path
) -> None:
    iam = client(endpoint, "iam", EMULATOR_KEYS)
    role = iam.create_role(RoleName="probe", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    answer = client(endpoint, "sts", EMULATOR_KEYS).assume_role(
        RoleArn=role, RoleSessionName="probe"
    )["Credentials"]
    assert moto_server.role_of_key(answer["AccessKeyId"]) == role
    assert moto_server.role_of_key("testing") is None
    keys = {
        "aws_access_key_id": answer["AccessKeyId"],
        "aws_secret_access_key": answer["SecretAccessKey"],
        "aws_session_token": answer["SessionToken"],
    }
    client(endpoint, "secretsmanager", EMULATOR_KEYS).create_secret(
        Name="s", SecretString="not-to-be-recorded"
    )
    client(endpoint, "logs", keys).create_log_group(logGroupName="g")
    client(endpoint, "ec2", keys).describe_vpcs()

    text = (tmp_path / "calls.jsonl").read_text()
    assert answer["SessionToken"] not in text
    # The emulator's own calls (CreateRole, AssumeRole, the secret) are not there.
    calls = [parse_entry(json.loads(line)) for line in text.splitlines()]
    assert [(c.key_id, c.iam_action) for c in calls if c] == [
        (answer["AccessKeyId"], "logs:CreateLogGroup"),
        (answer["AccessKeyId"], "ec2:DescribeVpcs"),
    ]
