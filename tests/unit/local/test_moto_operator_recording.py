"""The embedded default's moto records the operator's calls (those signed with its key) as the
names they address, never a secret value; role calls still go to their own file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap_local import moto_server
from tests.support.aws_calls import operator_calls
from tests.support.servers import moto_client, recording_moto

OPERATOR = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
OTHER = {"aws_access_key_id": "ecs-runtime", "aws_secret_access_key": "testing"}
SECRET = "s3cr3t-never-recorded"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto in this process, recording as the local stack does."""
    roles, operator = tmp_path / "roles.jsonl", tmp_path / "operator.jsonl"
    with recording_moto(monkeypatch, roles, operator) as url:
        yield url


def client(endpoint: str, service: str, keys: dict[str, str]) -> Any:
    return moto_client(endpoint, service, keys, "eu-west-1")


def test_operator_calls_keep_names_and_drop_every_secret_value(
    endpoint: str, tmp_path: Path
) -> None:
    secrets = client(endpoint, "secretsmanager", OPERATOR)
    arn = secrets.create_secret(Name="operator/dev/key", SecretString=SECRET)["ARN"]
    secrets.put_secret_value(SecretId=arn, SecretString=SECRET + "-2")
    secrets.put_secret_value(SecretId=arn, SecretBinary=SECRET.encode() + b"-3")
    ssm = client(endpoint, "ssm", OPERATOR)
    ssm.put_parameter(Name="operator-p", Value=SECRET, Type="SecureString")
    iam = client(endpoint, "iam", OPERATOR)
    iam.create_role(RoleName="operator-probe", AssumeRolePolicyDocument="{}", Description=SECRET)
    s3 = client(endpoint, "s3", OPERATOR)
    here = {"LocationConstraint": "eu-west-1"}
    s3.create_bucket(Bucket="operator-b", CreateBucketConfiguration=here)
    s3.put_object(Bucket="operator-b", Key="dir/state.json", Body=SECRET.encode())
    s3.get_bucket_versioning(Bucket="operator-b")
    client(endpoint, "ec2", OTHER).describe_vpcs()  # another key: not the operator's

    text = (tmp_path / "operator.jsonl").read_text()
    assert SECRET not in text
    for field in ("SecretString", "SecretBinary", '"Value"', '"Description"', "PolicyDocument"):
        assert field not in text, field
    calls = operator_calls(tmp_path / "operator.jsonl")
    assert [(c.region, c.iam_action) for c in calls] == [
        ("eu-west-1", "secretsmanager:CreateSecret"),
        ("eu-west-1", "secretsmanager:PutSecretValue"),
        ("eu-west-1", "secretsmanager:PutSecretValue"),
        ("eu-west-1", "ssm:PutParameter"),
        ("eu-west-1", "iam:CreateRole"),
        ("eu-west-1", "s3:CreateBucket"),
        ("eu-west-1", "s3:PutObject"),
        ("eu-west-1", "s3:GetBucketVersioning"),
    ]
    assert {c.key_id for c in calls} == {"operator"}
    assert calls[0].params == {"Name": "operator/dev/key"}
    assert calls[1].params == {"SecretId": arn}
    assert calls[4].params == {"RoleName": "operator-probe"}
    assert (calls[6].params["Bucket"], calls[6].params["Key"]) == ("operator-b", "dir/state.json")
    # Neither the operator's calls nor another key's reach the role calls' file.
    roles = tmp_path / "roles.jsonl"
    assert not roles.exists() or roles.read_text() == ""


def test_recording_the_operator_needs_its_key() -> None:
    with pytest.raises(SystemExit) as exited:
        moto_server.main(["--record-operator-calls", "/nonexistent/x.jsonl"])
    assert exited.value.code == 2


def test_a_line_names_nothing_but_resources() -> None:
    from bootstrap_local.operator_calls import entry

    scope = "testing/20260101/us-east-1/rds/aws4_request"
    auth = {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}"}
    body = "Action=CreateDBInstance&DBInstanceIdentifier=db&MasterUsername=u&MasterUserPassword=pw"
    body += "&Tags.member.1.Key=k&Tags.member.1.Value=v&VpcSecurityGroupIds.member.1=sg-1"
    headers = auth | {"Content-Type": "application/x-www-form-urlencoded"}
    line = entry(headers, "POST", "http://x/", body.encode())
    assert line is not None
    assert json.dumps(line).count("pw") == 0
    assert line["params"] == {"DBInstanceIdentifier": "db", "VpcSecurityGroupIds.member.1": "sg-1"}


def test_route53_and_oidc_calls_are_named_as_iam_authorizes_them(
    endpoint: str, tmp_path: Path
) -> None:
    """Route 53 is REST: a line is "<METHOD> <path>", named by botocore's model (the zone's
    ID in the path); an OIDC provider by the URL's host (tests/support/operator_grants.py)."""
    from tests.support.operator_grants import requests_of

    route53 = client(endpoint, "route53", OPERATOR)
    zone = route53.create_hosted_zone(Name="example.internal", CallerReference="r")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    record = {"Name": "a.example.internal", "Type": "A", "TTL": 60}
    change = route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": record | {"ResourceRecords": [{"Value": "10.0.0.1"}]},
                }
            ]
        },
    )
    route53.get_change(Id=change["ChangeInfo"]["Id"])
    route53.list_resource_record_sets(HostedZoneId=zone_id)
    iam = client(endpoint, "iam", OPERATOR)
    iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"]
    )
    calls = operator_calls(tmp_path / "operator.jsonl")
    named = {c.iam_action: [r.resource for r in requests_of(c, "123456789012")] for c in calls}
    zone_arn = f"arn:aws:route53:::hostedzone/{zone_id}"
    change_id = change["ChangeInfo"]["Id"].rsplit("/", 1)[-1]
    assert named == {
        "route53:CreateHostedZone": ["*"],
        "route53:ChangeResourceRecordSets": [zone_arn],
        "route53:GetChange": [f"arn:aws:route53:::change/{change_id}"],
        "route53:ListResourceRecordSets": [zone_arn],
        "iam:CreateOpenIDConnectProvider": [
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        ],
    }
