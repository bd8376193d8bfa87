"""ECS's `secrets[].valueFrom` forms -> which service, name, key, stage, version and region."""

from __future__ import annotations

import pytest

from bootstrap_local.ecs_runtime.spec import SecretRef, parse_value_from

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prefect-api-AbCdEf"
SSM_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter"


def test_value_from_forms() -> None:
    assert parse_value_from(SECRET_ARN).service == "secretsmanager"
    assert parse_value_from(SECRET_ARN).name == SECRET_ARN
    assert parse_value_from(SECRET_ARN).json_key is None
    keyed = parse_value_from(f"{SECRET_ARN}:password::")
    assert (keyed.name, keyed.json_key, keyed.version_stage, keyed.version_id) == (
        SECRET_ARN,
        "password",
        None,
        None,
    )
    staged = parse_value_from(f"{SECRET_ARN}::AWSPREVIOUS:")
    assert (staged.json_key, staged.version_stage) == (None, "AWSPREVIOUS")
    assert parse_value_from(f"{SSM_ARN}/prefect/api-key").name == "/prefect/api-key"
    assert parse_value_from(f"{SSM_ARN}/flat").name == "flat"
    assert parse_value_from("plain-name").service == "ssm"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        (SECRET_ARN, SecretRef("secretsmanager", SECRET_ARN)),
        (
            f"{SECRET_ARN}:db:AWSCURRENT:v-1",
            SecretRef("secretsmanager", SECRET_ARN, "db", "AWSCURRENT", "v-1"),
        ),
        (f"{SECRET_ARN}:::v-2", SecretRef("secretsmanager", SECRET_ARN, version_id="v-2")),
        (f"{SSM_ARN}/a/b/c", SecretRef("ssm", "/a/b/c")),
        ("/bare/hierarchical", SecretRef("ssm", "/bare/hierarchical")),
    ],
)
def test_value_from_table(value_from: str, expected: SecretRef) -> None:
    assert parse_value_from(value_from) == expected


def test_region_comes_from_the_arn() -> None:
    # A secret in another region is read there; a bare name is read in the runtime's own.
    assert parse_value_from(SECRET_ARN).region == "us-east-1"
    assert parse_value_from(f"{SECRET_ARN}:key::").region == "us-east-1"
    assert parse_value_from("plain-name").region is None
