"""Revoking a security group rule by an ID the group does not hold answers as on AWS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ec2.models.security_groups import SecurityGroupBackend

from bootstrap_local import aws_like
from bootstrap_local.aws_like.limits import stock


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the originals come back afterwards)."""
    for direction in ("ingress", "egress"):
        name = f"revoke_security_group_{direction}"
        monkeypatch.setattr(SecurityGroupBackend, name, stock(SecurityGroupBackend, name))
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def default_egress_rule(ec2: Any) -> tuple[str, str]:
    """(group, rule ID) of a new VPC's default security group's egress rule."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    filters = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    [group] = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}]
    )["SecurityGroupRules"]
    [egress] = [rule for rule in rules if rule["IsEgress"]]
    return group["GroupId"], egress["SecurityGroupRuleId"]


def test_stock_moto_answers_invalid_permission_for_a_rule_id_gone(ec2: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop the patch."""
    group, rule = default_egress_rule(ec2)
    ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=[rule])
    with pytest.raises(ec2.exceptions.ClientError, match="InvalidPermission.NotFound"):
        ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=[rule])


def test_a_rule_id_gone_is_invalid_security_group_rule_id_as_on_aws(ec2: Any) -> None:
    aws_like.security_group_rules_like_aws()
    aws_like.security_group_rules_like_aws()  # a second patch must not wrap the first
    group, rule = default_egress_rule(ec2)
    ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=[rule])
    with pytest.raises(ec2.exceptions.ClientError, match="InvalidSecurityGroupRuleId.NotFound"):
        ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=[rule])
    with pytest.raises(ec2.exceptions.ClientError, match="InvalidSecurityGroupRuleId.NotFound"):
        ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=["sgr-0123456789"])
