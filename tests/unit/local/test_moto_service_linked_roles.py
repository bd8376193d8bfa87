"""Service-linked roles are named, refused when taken, and made on first use as on AWS
(bootstrap_local/aws_like/service_linked_roles.py).

Each `test_stock_moto_*` shows why a part of the patch exists: if one fails, moto does what AWS
does there; drop that part of the patch and its test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.iam.models import IAMBackend

from bootstrap_local import aws_like
from bootstrap_local.aws_like.limits import stock
from bootstrap_local.aws_like.service_linked_roles import AWS_NAMES, FIRST_USE

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in this process, unpatched; the test decides (the originals come back afterwards)."""
    monkeypatch.setattr(
        IAMBackend, "create_service_linked_role", stock(IAMBackend, "create_service_linked_role")
    )
    for cls, action in FIRST_USE:
        monkeypatch.setattr(cls, action, stock(cls, action))
    with mock_aws():
        yield


def linked_roles() -> dict[str, str]:
    """Role name -> path of every service-linked role in the account."""
    iam = boto3.client("iam", region_name=REGION)
    roles = iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]
    return {role["RoleName"]: role["Path"] for role in roles}


def first_uses() -> None:
    """A cluster, a service, a load balancer, a database and a scalable target."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in enumerate("ab")
    ]
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="c")
    container = {"name": "w", "image": "x", "memory": 512}
    ecs.register_task_definition(family="w", containerDefinitions=[container])
    ecs.create_service(cluster="c", serviceName="w", taskDefinition="w", desiredCount=1)
    elb = boto3.client("elbv2", region_name=REGION)
    elb.create_load_balancer(Name="lb", Subnets=subnets)
    boto3.client("rds", region_name=REGION).create_db_instance(
        DBInstanceIdentifier="db",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        MasterUsername="prefect",
        MasterUserPassword="not-a-secret-123",
        AllocatedStorage=20,
    )
    boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/c/w",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=2,
    )


def test_stock_moto_names_service_linked_roles_unlike_aws(aws: None) -> None:
    iam = boto3.client("iam", region_name=REGION)
    for service in AWS_NAMES:
        iam.create_service_linked_role(AWSServiceName=service)
    assert sorted(linked_roles()) == [
        "AWSServiceRoleForApplicationAutoScaling_Ecs",
        "AWSServiceRoleForecs",
        "AWSServiceRoleForelasticloadbalancing",
        "AWSServiceRoleForrds",
    ]


def test_stock_moto_makes_no_service_linked_role_on_first_use(aws: None) -> None:
    first_uses()
    assert linked_roles() == {}


def test_service_linked_roles_get_aws_names_and_a_taken_one_is_refused(aws: None) -> None:
    aws_like.service_linked_roles_like_aws()
    aws_like.service_linked_roles_like_aws()  # a second patch must not wrap the first
    iam = boto3.client("iam", region_name=REGION)
    for service in AWS_NAMES:
        iam.create_service_linked_role(AWSServiceName=service)
    assert linked_roles() == {
        name: f"/aws-service-role/{service}/" for service, name in AWS_NAMES.items()
    }
    with pytest.raises(iam.exceptions.ClientError, match="InvalidInput.*has been taken"):
        iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    # A service the product does not use keeps moto's naming.
    iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    assert "AWSServiceRoleForElasticBeanstalk" in linked_roles()


def test_first_use_of_each_service_creates_its_role_as_on_aws(aws: None) -> None:
    aws_like.service_linked_roles_like_aws()
    first_uses()
    assert sorted(linked_roles()) == sorted(AWS_NAMES.values())


def test_first_use_keeps_a_role_that_exists(aws: Any) -> None:
    aws_like.service_linked_roles_like_aws()
    iam = boto3.client("iam", region_name=REGION)
    made = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
    boto3.client("ecs", region_name=REGION).create_cluster(clusterName="c")
    assert iam.get_role(RoleName="AWSServiceRoleForECS")["Role"]["RoleId"] == made["RoleId"]
