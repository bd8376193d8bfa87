"""Which leftovers of a teardown were kept on purpose, which images bootstrap pushed, and what
the receipt lists (in-process moto as AWS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moto import mock_aws

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import receipt
from bootstrap_flows.cleanup.drain import PUSHED_TAG
from bootstrap_flows.cleanup.receipt import ANYTHING_ELSE, PROJECT_TAG, Leftover, why_kept
from bootstrap_flows.config.settings import load_settings

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import TagTypeDef

BUCKET = "arn:aws:s3:::prefect-dev-tfstate-123456789012"
DB = "arn:aws:rds:us-east-1:123456789012:db:prefect-dev-server"


def test_a_leftover_is_kept_by_arn_name_or_identifier() -> None:
    kept = {BUCKET: "kept: state", "prefect-dev-server": "kept: database"}
    assert why_kept(Leftover(service="s3", resource=BUCKET), kept) == "kept: state"
    assert why_kept(Leftover(service="rds", resource=DB), kept) == "kept: database"
    vpc = Leftover(service="ec2", resource="arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1")
    assert why_kept(vpc, kept) is None
    assert why_kept(vpc, kept | {ANYTHING_ELSE: "kept: platform"}) == "kept: platform"


def test_a_name_is_matched_whole() -> None:
    kept = {"prefect-dev-server": "kept"}
    other = Leftover(service="rds", resource=f"{DB}-replica")
    assert why_kept(other, kept) is None


def test_only_content_tags_count_as_bootstraps_images() -> None:
    assert PUSHED_TAG.match("a1db50a35aa251d5d6ea")
    assert not PUSHED_TAG.match("latest")
    assert not PUSHED_TAG.match("a1db50a35aa251d5d6ea-mine")


def test_the_receipt_lists_what_aws_holds_for_the_environment_each_once() -> None:
    settings = load_settings(
        environment="dev",
        prefect_api_auth_string="user:pass",
        prefect_api_url="https://prefect.example.invalid/api",
    )
    name = settings.stack_name
    tags: list[TagTypeDef] = [
        {"key": "Project", "value": PROJECT_TAG[1]},
        {"key": "Environment", "value": "dev"},
    ]
    with mock_aws():
        ecs, iam = aws.client(settings, "ecs"), aws.client(settings, "iam")
        live = ecs.create_cluster(clusterName=f"{name}-cluster", tags=tags)["cluster"]
        ecs.create_cluster(clusterName=f"{name}-gone", tags=tags)
        ecs.delete_cluster(cluster=f"{name}-gone")  # INACTIVE: still tagged, no longer there
        other: list[TagTypeDef] = [{"key": "Environment", "value": "prod"}, tags[0]]
        ecs.create_cluster(clusterName="prefect-prod-cluster", tags=other)
        role = iam.create_role(RoleName=f"{name}-worker", AssumeRolePolicyDocument="{}")["Role"]
        iam.create_role(RoleName="prefect-prod-worker", AssumeRolePolicyDocument="{}")
        repository = aws.client(settings, "ecr").create_repository(repositoryName=f"{name}-worker")
        aws.client(settings, "logs").create_log_group(logGroupName=f"/ecs/{name}-worker")

        made_here = receipt.leftovers(settings)
        given = receipt.leftovers(settings, clients=receipt.Clients(settings))

    assert [item.resource for item in made_here] == sorted(
        [
            live["clusterArn"],
            role["Arn"],
            repository["repository"]["repositoryArn"],
            f"/ecs/{name}-worker",
        ]
    )
    assert given == made_here
