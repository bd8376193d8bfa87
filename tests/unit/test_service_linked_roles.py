"""The service-linked roles bootstrap needs: found missing on a fresh account, created once (one
log line each, none when all exist), and a caller who may not create them is told which to ask
for (in-process moto as AWS, made to name and refuse roles as AWS does by
bootstrap_local.aws_like; its IAM enforcing a policy for the denial)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import boto3
import moto.settings
import pytest
from moto import mock_aws

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.safety import service_linked_roles as slr
from bootstrap_flows.safety.preflight import PreflightError
from bootstrap_local import aws_like

ACCOUNT = "123456789012"  # moto's
CERTIFICATE_ARN = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc"
LOGGER = logging.getLogger("test-service-linked-roles")

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture(autouse=True)
def fresh_account() -> Iterator[None]:
    """An account without any service-linked role, whose IAM names them as AWS does."""
    aws_like.service_linked_roles_like_aws()
    with mock_aws():
        yield


def platform_only(**overrides: object) -> BootstrapSettings:
    return load_settings(
        environment="dev",
        prefect_api_url="https://prefect.example.com/api",
        prefect_api_auth_string="user:pass",
        **overrides,
    )


def with_server() -> BootstrapSettings:
    return load_settings(
        environment="prod", prefect_server="aws", server_certificate_arn=CERTIFICATE_ARN
    )


def names(roles: list[slr.ServiceLinkedRole]) -> list[str]:
    return [role.name for role in roles]


def test_each_stack_needs_its_services_roles() -> None:
    assert slr.needed(platform_only()) == (slr.ECS, slr.ECS_AUTOSCALING)
    # No scalable target without a worker to scale, nor where the target has no autoscaling.
    assert slr.needed(platform_only(worker_count=0)) == (slr.ECS,)
    assert slr.needed(load_settings(environment="local")) == (slr.ECS,)
    assert slr.needed(with_server()) == (slr.ECS, slr.LOAD_BALANCING, slr.RDS, slr.ECS_AUTOSCALING)


def test_a_fresh_account_lacks_them_bootstrap_creates_them_and_a_rerun_creates_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = with_server()
    missing = slr.missing(settings, ACCOUNT)
    assert missing == list(slr.needed(settings))
    caplog.set_level(logging.INFO, LOGGER.name)

    assert slr.create(settings, missing, LOGGER) == names(missing)
    created = [r.getMessage() for r in caplog.records]
    assert created == [
        f"Created the service-linked role {role.name} ({role.used_by} needs it)" for role in missing
    ]
    iam = aws.client(settings, "iam")
    for role in missing:
        made = iam.get_role(RoleName=role.name)["Role"]
        assert made["Arn"] == role.arn(ACCOUNT)

    caplog.clear()
    assert slr.missing(settings, ACCOUNT) == []
    assert slr.create(settings, [], LOGGER) == []
    assert caplog.records == []


def test_a_role_another_run_created_since_preflight_counts_as_there(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = platform_only()
    missing = slr.missing(settings, ACCOUNT)
    aws.client(settings, "iam").create_service_linked_role(AWSServiceName=slr.ECS.service)
    caplog.set_level(logging.INFO, LOGGER.name)
    assert slr.create(settings, missing, LOGGER) == [slr.ECS_AUTOSCALING.name]
    assert len(caplog.records) == 1


def _restricted_identity(monkeypatch: pytest.MonkeyPatch, actions: list[str]) -> None:
    """Use a user's key that may only make `actions`, and have moto's IAM enforce it."""
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="operator")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName="operator", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)


def test_a_caller_who_may_not_create_them_is_told_which_to_ask_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = with_server()
    aws.client(settings, "iam").create_service_linked_role(AWSServiceName=slr.RDS.service)
    _restricted_identity(monkeypatch, ["iam:GetRole"])
    missing = slr.missing(settings, ACCOUNT)
    assert missing == [slr.ECS, slr.LOAD_BALANCING, slr.ECS_AUTOSCALING]

    with pytest.raises(slr.ServiceLinkedRoleError) as refused:
        slr.create(settings, missing, LOGGER)
    message = str(refused.value)
    assert "iam:CreateServiceLinkedRole denied" in message
    for role in missing:
        assert f"aws iam create-service-linked-role --aws-service-name {role.service}" in message
        assert role.name in message
    assert slr.RDS.name not in message
    assert "Nothing else was changed." in message
    assert "AccessDenied" in str(refused.value.__cause__)
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    assert slr.missing(settings, ACCOUNT) == missing  # none was made


def test_preflight_says_which_permission_a_lookup_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = platform_only()
    _restricted_identity(monkeypatch, ["sts:GetCallerIdentity"])
    with pytest.raises(PreflightError, match="needs iam:GetRole on arn:aws:iam::") as refused:
        slr.missing(settings, ACCOUNT)
    assert slr.ECS.arn(ACCOUNT) in str(refused.value)
