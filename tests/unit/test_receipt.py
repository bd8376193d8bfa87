"""Which leftovers of a teardown were kept on purpose, which images bootstrap pushed, and what
the receipt lists (in-process moto as AWS)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from moto import mock_aws

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import receipt
from bootstrap_flows.cleanup.drain import PUSHED_TAG
from bootstrap_flows.cleanup.receipt import ANYTHING_ELSE, PROJECT_TAG, Leftover, why_kept
from bootstrap_flows.cleanup.task_definitions import WORKER_FAMILY
from bootstrap_flows.config import names
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_local import aws_like

if TYPE_CHECKING:
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_ecs.type_defs import ContainerDefinitionTypeDef, TagTypeDef

BUCKET = "arn:aws:s3:::prefect-dev-tfstate-123456789012"
DB = "arn:aws:rds:us-east-1:123456789012:db:prefect-dev-server"


def _register(ecs: ECSClient, family: str) -> str:
    container: ContainerDefinitionTypeDef = {"name": "flow", "image": "x", "memory": 512}
    definition = ecs.register_task_definition(family=family, containerDefinitions=[container])
    return definition["taskDefinition"]["taskDefinitionArn"]


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
    aws_like.ecs_like_aws()
    aws_like.ecr_like_aws()  # moto's family listing, pages and limits as AWS's
    with mock_aws():
        ecs, iam = aws.client(settings, "ecs"), aws.client(settings, "iam")
        # A task definition the drain left behind (the worker's family for the pool), and the
        # worker service's; not the ones deregistered, nor another pool's or environment's.
        worker = WORKER_FAMILY.format(pool=settings.work_pool_name)
        left = _register(ecs, f"{worker}{uuid.uuid4()}")
        ecs.deregister_task_definition(taskDefinition=_register(ecs, f"{worker}{uuid.uuid4()}"))
        _register(ecs, f"{worker}2_{uuid.uuid4()}")
        service = _register(ecs, f"{name}-worker")
        ecs.deregister_task_definition(taskDefinition=_register(ecs, f"{name}-server"))
        _register(ecs, "prefect-prod-worker")
        live = ecs.create_cluster(clusterName=f"{name}-cluster", tags=tags)["cluster"]
        ecs.create_cluster(clusterName=f"{name}-gone", tags=tags)
        ecs.delete_cluster(cluster=f"{name}-gone")  # INACTIVE: still tagged, no longer there
        other: list[TagTypeDef] = [{"key": "Environment", "value": "prod"}, tags[0]]
        ecs.create_cluster(clusterName="prefect-prod-cluster", tags=other)
        role = iam.create_role(RoleName=f"{name}-worker-task", AssumeRolePolicyDocument="{}")
        iam.create_role(RoleName="prefect-prod-worker-task", AssumeRolePolicyDocument="{}")
        repository = aws.client(settings, "ecr").create_repository(repositoryName=f"{name}-worker")
        aws.client(settings, "logs").create_log_group(logGroupName=f"/ecs/{name}/worker")

        made_here = receipt.leftovers(settings)
        given = receipt.leftovers(settings, clients=receipt.Clients(settings))

    assert [item.resource for item in made_here] == sorted(
        [
            live["clusterArn"],
            role["Role"]["Arn"],
            repository["repository"]["repositoryArn"],
            f"/ecs/{name}/worker",
            left,
            service,
        ]
    )
    assert given == made_here


def test_the_receipt_reads_every_page_of_repositories() -> None:
    settings = load_settings(
        environment="dev",
        prefect_api_auth_string="user:pass",
        prefect_api_url="https://prefect.example.invalid/api",
    )
    aws_like.ecs_like_aws()
    aws_like.ecr_like_aws()  # AWS answers 100 repositories a page
    with mock_aws():
        ecr = aws.client(settings, "ecr")
        for n in range(100):
            ecr.create_repository(repositoryName=f"another-{n:03}")
        ours = ecr.create_repository(repositoryName=f"{settings.stack_name}-worker")
        listed = receipt.leftovers(settings)
    assert [item.resource for item in listed if item.service == "ecr"] == [
        ours["repository"]["repositoryArn"]
    ]


def test_a_secret_scheduled_for_deletion_is_listed_as_such_not_as_left_behind() -> None:
    settings = load_settings(
        environment="dev",
        prefect_api_auth_string="user:pass",
        prefect_api_url="https://prefect.example.invalid/api",
    )
    with mock_aws():
        secrets = aws.client(settings, "secretsmanager")
        torn_down = secrets.create_secret(Name="prefect/dev/prefect-api-key")["ARN"]
        secrets.delete_secret(SecretId=torn_down, RecoveryWindowInDays=7)
        until = secrets.describe_secret(SecretId=torn_down)["DeletedDate"]
        live = secrets.create_secret(Name="prefect/dev/other")["ARN"]
        secrets.create_secret(Name="prefect/prod/prefect-api-key")  # another environment's
        left = {item.resource: item for item in receipt.leftovers(settings)}

    assert sorted(left) == sorted([torn_down, live])
    note = f"scheduled for deletion until {until:%Y-%m-%d}, restored by the next bootstrap"
    assert why_kept(left[torn_down], {}) == left[torn_down].note == note
    assert why_kept(left[live], {}) is None  # a live one is left behind
    assert "expected" not in left[torn_down].model_dump()  # not a column of the receipt


def _make_everything_listed_by_name(settings: BootstrapSettings) -> set[str]:
    """Every role, repository, task definition and log group the receipt lists by name, made
    under the environment's derived names (config/names.py); their ARNs or names."""
    prefix, environment = settings.name_prefix, settings.environment
    iam, ecr = aws.client(settings, "iam"), aws.client(settings, "ecr")
    made: set[str] = set()
    for each in names.DERIVED:
        name = each.name(prefix, environment)
        if each.kind == "IAM role":
            made.add(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
        elif each.kind == "ECR repository":
            made.add(ecr.create_repository(repositoryName=name)["repository"]["repositoryArn"])
        elif each.what.endswith("task family"):
            made.add(_register(aws.client(settings, "ecs"), name))
    group = names.derived("log group").name(prefix, environment)
    aws.client(settings, "logs").create_log_group(logGroupName=group)
    return made | {group}


def test_the_receipt_lists_nothing_of_an_environment_whose_name_begins_the_same() -> None:
    """`prefect-dev-` begins every name of environment `dev-2` too: a receipt for `dev` lists
    none of them (and `dev-2`'s none of `dev`'s)."""
    dev, dev_2 = (
        load_settings(
            environment=environment,
            prefect_api_auth_string="user:pass",
            prefect_api_url="https://prefect.example.invalid/api",
        )
        for environment in ("dev", "dev-2")
    )
    aws_like.ecs_like_aws()
    aws_like.ecr_like_aws()
    with mock_aws():
        made = [_make_everything_listed_by_name(each) for each in (dev, dev_2)]
        listed = [{item.resource for item in receipt.leftovers(each)} for each in (dev, dev_2)]
    assert len(made[0]) >= 10
    assert listed == made
