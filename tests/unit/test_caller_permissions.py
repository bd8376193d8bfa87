"""Preflight checks the caller against the operator policy with IAM's policy simulator (moto's,
bootstrap_local/aws_like/iam.py), listing every missing permission before anything changes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication
from moto.iam.responses import IamResponse

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.safety import caller_permissions, operator_policy
from bootstrap_flows.safety.caller_permissions import (
    CallerPermissionsError,
    check_caller_permissions,
    principal_arn,
)
from bootstrap_flows.safety.preflight import PreflightError, run_preflight
from bootstrap_local.aws_like import iam as iam_like

ACCOUNT = "123456789012"  # moto's
SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture
def settings(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[BootstrapSettings]:
    """An environment on AWS (moto in this process) with moto's policy simulator."""
    monkeypatch.setattr(
        IamResponse, "simulate_principal_policy", iam_like.simulate_principal_policy, raising=False
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield load_settings(
            environment="dev",
            aws_region="us-east-1",
            prefect_api_url="https://prefect.example.invalid/api",
            prefect_api_auth_string="user:pass",
        )


def the_policy(settings: BootstrapSettings, without: str = "") -> str:
    document = operator_policy.render(settings, ACCOUNT)
    document["Statement"] = [s for s in document["Statement"] if s["Sid"] != without]
    return json.dumps(document)


def as_user(settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch, policy: str) -> str:
    """Run as a new IAM user holding `policy` (a managed policy); its ARN."""
    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_user(UserName="operator")["User"]["Arn"]
    managed = iam.create_policy(PolicyName="operator", PolicyDocument=policy)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="operator", PolicyArn=managed)
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    return str(arn)


def as_sso_role(settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch, policy: str) -> str:
    """Run as a session of a role with a path (as SSO's are), holding `policy` inline; the
    session's ARN, which leaves the path out."""
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="AWSReservedSSO_Ops", Path=SSO_PATH, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="AWSReservedSSO_Ops", PolicyName="operator", PolicyDocument=policy)
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role{SSO_PATH}AWSReservedSSO_Ops", RoleSessionName="me"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    sts = boto3.Session().client("sts", region_name="us-east-1")  # the new credentials
    caller = sts.get_caller_identity()["Arn"]
    assert caller == f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Ops/me"
    return str(caller)


def test_a_user_with_the_whole_policy_passes(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = as_user(settings, monkeypatch, the_policy(settings))
    assert caller_permissions.find_missing(settings, ACCOUNT, caller) == []
    check_caller_permissions(settings, ACCOUNT, caller)


def test_a_user_missing_a_statement_is_refused_with_every_action_it_lacks(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = as_user(settings, monkeypatch, the_policy(settings, without="EnvironmentRoles"))
    with pytest.raises(CallerPermissionsError) as refused:
        check_caller_permissions(settings, ACCOUNT, caller)
    message = str(refused.value)
    roles = f"arn:aws:iam::{ACCOUNT}:role/{settings.stack_name}-*"
    assert f"{caller} lacks 9 permission(s)" in message  # iam:GetRole: PreflightChecksTheCaller
    for action in ("iam:CreateRole", "iam:DeleteRole", "iam:PutRolePolicy", "iam:TagRole"):
        assert f"  - {action} on {roles} (not granted)" in message
    assert "bootstrap-flows operator-policy dev" in message
    # The conditions' values are the request's context: these statements still pass.
    assert "iam:PassRole" not in message and "ec2:DescribeVpcs" not in message


def test_an_explicit_deny_is_named(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = json.loads(the_policy(settings))
    policy["Statement"].append({"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"})
    caller = as_user(settings, monkeypatch, json.dumps(policy))
    queues = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{settings.stack_name}-*"
    with pytest.raises(CallerPermissionsError, match="lacks 1 permission") as refused:
        check_caller_permissions(settings, ACCOUNT, caller)
    assert f"  - sqs:DeleteQueue on {queues} (denied explicitly)" in str(refused.value)


def test_an_assumed_roles_path_is_found(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = as_sso_role(settings, monkeypatch, the_policy(settings, without="ObserverRule"))
    assert principal_arn(caller) == f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Ops"
    with pytest.raises(CallerPermissionsError, match="lacks 8 permission") as refused:
        check_caller_permissions(settings, ACCOUNT, caller)
    assert "events:PutRule" in str(refused.value)


def test_a_caller_that_may_not_simulate_is_warned_about_and_let_through(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    caller = as_user(
        settings, monkeypatch, the_policy(settings, without="PreflightChecksTheCaller")
    )
    with enable_iam_authentication(), caplog.at_level(logging.WARNING):
        check_caller_permissions(settings, ACCOUNT, caller)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"Skipped checking {caller} against the operator policy")
    assert "AccessDenied" in warning and "iam:SimulatePrincipalPolicy" in warning


def test_a_read_only_caller_may_run_drift_check_but_not_bootstrap_or_teardown(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """drift-check only reads (a remediation is a bootstrap run with its own preflight): the
    operator policy's write permissions are asked of bootstrap and teardown only."""
    reads = ["ec2:Describe*", "sts:GetCallerIdentity", "iam:Get*", "iam:SimulatePrincipalPolicy"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": reads, "Resource": "*"}],
    }
    as_user(settings, monkeypatch, json.dumps(policy))
    for run in ("bootstrap", "teardown"):
        with pytest.raises(CallerPermissionsError):
            run_preflight(settings, run)
    # Past the caller check: the next one asks the Prefect API, which this test has none of.
    with pytest.raises(PreflightError, match="prefect.example.invalid"):
        run_preflight(settings, "drift-check")
