"""What AWS holds that a planned create may mean: the lookups behind adoption (adoption.py).

Only the planned creates are looked up, each by what names it (one describe call) and the
tagged EC2 resources all at once (one DescribeTags call; a second one only when the
environment has any); the calls run side by side, so a cold bootstrap pays about one round trip.
A secret scheduled for deletion is restored as it is found (see `_secret`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.terraform.adoption import BY_PARENT, NAMED, TAGGED, Create, Existing
from bootstrap_flows.terraform.runner import TerraformError

# What each service answers for "no such thing" (ECS: ClientException for a task definition).
NOT_FOUND = frozenset(
    {
        "NoSuchEntity",
        "ResourceNotFoundException",
        "RepositoryNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "ClusterNotFoundException",
        "ServiceNotFoundException",
        "ClientException",
        "LoadBalancerNotFound",
        "TargetGroupNotFound",
        "DBInstanceNotFound",
        "DBSubnetGroupNotFoundFault",
        "404",  # S3's HeadBucket
        "NoSuchBucket",
    }
)
# DescribeTags takes at most 200 values per filter.
_CHUNK = 200
# How each tagged kind is confirmed to exist: (EC2 method, id filter, list key, id key).
_DESCRIBE: dict[str, tuple[str, str, str, str]] = {
    "aws_vpc": ("describe_vpcs", "vpc-id", "Vpcs", "VpcId"),
    "aws_subnet": ("describe_subnets", "subnet-id", "Subnets", "SubnetId"),
    "aws_internet_gateway": (
        "describe_internet_gateways",
        "internet-gateway-id",
        "InternetGateways",
        "InternetGatewayId",
    ),
    "aws_route_table": ("describe_route_tables", "route-table-id", "RouteTables", "RouteTableId"),
    "aws_eip": ("describe_addresses", "allocation-id", "Addresses", "AllocationId"),
    "aws_nat_gateway": ("describe_nat_gateways", "nat-gateway-id", "NatGateways", "NatGatewayId"),
    "aws_flow_log": ("describe_flow_logs", "flow-log-id", "FlowLogs", "FlowLogId"),
}


class AdoptionLookupFailed(TerraformError):
    """AWS did not answer a lookup: nothing is planned on a guess."""


class AwsLookup:
    """The resources AWS holds that could be the given creates (adoption.Lookup)."""

    def __init__(self, settings: BootstrapSettings) -> None:
        self.settings = settings

    def __call__(self, creates: Sequence[Create]) -> list[Existing]:
        jobs: list[Callable[[], list[Existing]]] = []
        tagged = {create.type for create in creates if create.type in TAGGED}
        if tagged:
            jobs.append(lambda: self.tagged(tagged))
        children = [create for create in creates if create.type in BY_PARENT]
        if children:
            jobs.append(lambda: self.children(children))
        jobs += [_named_job(self, create) for create in creates if create.type in NAMED]
        with ThreadPoolExecutor(max_workers=8) as pool:
            return [each for found in pool.map(lambda job: job(), jobs) for each in found]

    def untyped(self, service: str) -> Any:
        """A client of a service whose type stubs the project does not install (elbv2, rds)."""
        return aws.client(self.settings, service)

    def tagged(self, kinds: set[str]) -> list[Existing]:
        """EC2 resources of these kinds tagged for the environment, with all their tags."""
        ec2 = aws.client(self.settings, "ec2")
        prefixes = {TAGGED[kind]: kind for kind in kinds}
        ours = [
            row["ResourceId"]
            for page in ec2.get_paginator("describe_tags").paginate(
                Filters=[
                    {"Name": "key", "Values": ["Environment"]},
                    {"Name": "value", "Values": [self.settings.environment]},
                ]
            )
            for row in page["Tags"]
            if _kind(row["ResourceId"], prefixes)
        ]
        tags: dict[str, dict[str, str]] = {}
        for start in range(0, len(ours), _CHUNK):
            chunk = ours[start : start + _CHUNK]
            for page in ec2.get_paginator("describe_tags").paginate(
                Filters=[{"Name": "resource-id", "Values": chunk}]
            ):
                for row in page["Tags"]:
                    tags.setdefault(row["ResourceId"], {})[row["Key"]] = row["Value"]
        alive = self._alive(kinds, list(tags))
        return [
            Existing(
                type=prefixes[_kind(resource_id, prefixes)],
                id=resource_id,
                attributes={f"tag:{key}": value for key, value in resource_tags.items()},
                label=f"{resource_id} (Name={resource_tags.get('Name', '?')})",
            )
            for resource_id, resource_tags in tags.items()
            if resource_id in alive
        ]

    def _alive(self, kinds: set[str], ids: list[str]) -> set[str]:
        """The ids that still name a live resource. Tags outlive what they tag: AWS lists a
        deleted NAT gateway (and its tags) for an hour, and the emulator keeps the tags of
        every deleted VPC, subnet, gateway, table and address; importing one fails."""
        ec2 = aws.client(self.settings, "ec2")
        alive: set[str] = set()
        for kind in kinds:
            method, filter_name, listed, key = _DESCRIBE[kind]
            wanted = [i for i in ids if i.startswith(TAGGED[kind])]
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                found = getattr(ec2, method)(Filters=[{"Name": filter_name, "Values": chunk}])
                alive |= {
                    item[key]
                    for item in found[listed]
                    if item.get("State") not in ("deleting", "deleted", "failed")
                }
        return alive

    def children(self, creates: Sequence[Create]) -> list[Existing]:
        """Routes and subnet associations of the route tables these creates name."""
        tables = sorted({create.identity["route_table_id"] for create in creates})
        ec2 = aws.client(self.settings, "ec2")
        try:
            found = ec2.describe_route_tables(RouteTableIds=tables)["RouteTables"]
        except ClientError as exc:
            if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
                raise
            return []  # a table named in the plan that AWS no longer has: nothing to adopt
        existing = []
        for table in found:
            table_id = table["RouteTableId"]
            for route in table.get("Routes", []):
                cidr = route.get("DestinationCidrBlock")
                if cidr and route.get("Origin") == "CreateRoute":
                    existing.append(
                        Existing(
                            "aws_route",
                            f"{table_id}_{cidr}",
                            {"route_table_id": table_id, "destination_cidr_block": cidr},
                            f"route {cidr} in {table_id}",
                        )
                    )
            for association in table.get("Associations", []):
                subnet = association.get("SubnetId")
                if subnet and not association.get("Main"):
                    existing.append(
                        Existing(
                            "aws_route_table_association",
                            f"{subnet}/{table_id}",
                            {"route_table_id": table_id, "subnet_id": subnet},
                            f"association of {subnet} with {table_id}",
                        )
                    )
        return existing


def _kind(resource_id: str, prefixes: dict[str, str]) -> str:
    return next((prefix for prefix in prefixes if resource_id.startswith(prefix)), "")


def _named_job(lookup: AwsLookup, create: Create) -> Callable[[], list[Existing]]:
    def job() -> list[Existing]:
        try:
            return [
                Existing(create.type, resource_id, create.identity, label)
                for resource_id, label in _FINDERS[create.type](lookup, create.identity)
            ]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                return []
            raise AdoptionLookupFailed(
                f"looking up {create.address} ({dict(create.identity)}) in AWS failed, so it "
                f"cannot be told whether it exists already; nothing was changed: {exc}"
            ) from exc

    return job


Found = Iterator[tuple[str, str]]
"""(import ID, label) of each resource found by name."""


def _role(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    role = aws.client(lookup.settings, "iam").get_role(RoleName=key["name"])["Role"]
    yield role["RoleName"], f"role {role['RoleName']}"


def _secret(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    secrets = aws.client(lookup.settings, "secretsmanager")
    secret = secrets.describe_secret(SecretId=key["name"])
    label = f"secret {secret['ARN']}"
    if "DeletedDate" in secret:
        # A teardown scheduled it for deletion: for the recovery window AWS refuses to create
        # the name again, and Terraform cannot import it. Restoring only cancels the deletion
        # (its value comes back; bootstrap writes the current one after the apply), so the
        # environment's own secret is taken back instead of failing until the window ends.
        secrets.restore_secret(SecretId=secret["ARN"])
        label += f" (scheduled for deletion on {secret['DeletedDate']:%Y-%m-%d}: restored)"
    yield secret["ARN"], label


def _repository(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    ecr = aws.client(lookup.settings, "ecr")
    for repository in ecr.describe_repositories(repositoryNames=[key["name"]])["repositories"]:
        yield repository["repositoryName"], f"repository {repository['repositoryName']}"


def _log_group(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    groups = aws.client(lookup.settings, "logs").describe_log_groups(logGroupNamePrefix=key["name"])
    for group in groups["logGroups"]:
        if group["logGroupName"] == key["name"]:
            yield group["logGroupName"], f"log group {group['logGroupName']}"


def _cluster(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    for cluster in aws.client(lookup.settings, "ecs").describe_clusters(clusters=[key["name"]])[
        "clusters"
    ]:
        if cluster.get("status") == "ACTIVE":
            yield cluster["clusterName"], f"cluster {cluster['clusterArn']}"


def _service(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    ecs = aws.client(lookup.settings, "ecs")
    for service in ecs.describe_services(cluster=key["cluster"], services=[key["name"]])[
        "services"
    ]:
        if service.get("status") == "ACTIVE":
            cluster = service["clusterArn"].rsplit("/", 1)[-1]
            yield f"{cluster}/{service['serviceName']}", f"service {service['serviceArn']}"


def _task_definition(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    ecs = aws.client(lookup.settings, "ecs")
    definition = ecs.describe_task_definition(taskDefinition=key["family"])["taskDefinition"]
    if definition.get("status") == "ACTIVE":
        arn = definition["taskDefinitionArn"]
        yield arn, f"task definition {arn}"


def _queue(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    url = aws.client(lookup.settings, "sqs").get_queue_url(QueueName=key["name"])["QueueUrl"]
    yield url, f"queue {url}"


def _rule(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    rule = aws.client(lookup.settings, "events").describe_rule(Name=key["name"])
    yield rule["Name"], f"event rule {rule['Arn']}"


def _security_group(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    groups = aws.client(lookup.settings, "ec2").describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": [key["name"]]},
            {"Name": "vpc-id", "Values": [key["vpc_id"]]},
        ]
    )
    for group in groups["SecurityGroups"]:
        yield group["GroupId"], f"{group['GroupId']} ({group['GroupName']})"


def _load_balancer(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    balancers = lookup.untyped("elbv2").describe_load_balancers(Names=[key["name"]])
    for balancer in balancers["LoadBalancers"]:
        yield balancer["LoadBalancerArn"], f"load balancer {balancer['LoadBalancerArn']}"


def _target_group(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    groups = lookup.untyped("elbv2").describe_target_groups(Names=[key["name"]])
    for group in groups["TargetGroups"]:
        yield group["TargetGroupArn"], f"target group {group['TargetGroupArn']}"


def _database(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    rds = lookup.untyped("rds")
    for db in rds.describe_db_instances(DBInstanceIdentifier=key["identifier"])["DBInstances"]:
        if db.get("DBInstanceStatus") != "deleting":
            yield db["DBInstanceIdentifier"], f"database {db['DBInstanceArn']}"


def _db_subnet_group(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    rds = lookup.untyped("rds")
    for group in rds.describe_db_subnet_groups(DBSubnetGroupName=key["name"])["DBSubnetGroups"]:
        yield group["DBSubnetGroupName"], f"DB subnet group {group['DBSubnetGroupName']}"


def _bucket(lookup: AwsLookup, key: Mapping[str, str]) -> Found:
    aws.client(lookup.settings, "s3").head_bucket(Bucket=key["bucket"])
    yield key["bucket"], f"bucket {key['bucket']}"


_FINDERS: dict[str, Callable[[AwsLookup, Mapping[str, str]], Found]] = {
    "aws_iam_role": _role,
    "aws_secretsmanager_secret": _secret,
    "aws_ecr_repository": _repository,
    "aws_cloudwatch_log_group": _log_group,
    "aws_ecs_cluster": _cluster,
    "aws_ecs_service": _service,
    "aws_ecs_task_definition": _task_definition,
    "aws_sqs_queue": _queue,
    "aws_cloudwatch_event_rule": _rule,
    "aws_security_group": _security_group,
    "aws_lb": _load_balancer,
    "aws_lb_target_group": _target_group,
    "aws_db_instance": _database,
    "aws_db_subnet_group": _db_subnet_group,
    "aws_s3_bucket": _bucket,
}
