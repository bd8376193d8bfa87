"""The teardown receipt: what AWS still holds for the environment, listed from AWS itself.

Not Terraform's word for it: the Resource Groups Tagging API lists everything tagged for the
environment (every stack tags Project and Environment), and a listing per service covers what
that API does not see (IAM roles, ECS task definitions, ECR repositories and log groups by
name). A clean teardown leaves nothing but the state bucket, unless that was asked for too.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from bootstrap_flows import aws
from bootstrap_flows.drain import WORKER_FAMILY
from bootstrap_flows.settings import BootstrapSettings

PROJECT_TAG = ("Project", "bootstrap-flows")
# The key of `kept` whose note applies to every leftover not named otherwise.
ANYTHING_ELSE = "*"


class Leftover(BaseModel):
    service: str
    resource: str
    note: str = ""


def _tagged(settings: BootstrapSettings) -> Iterator[Leftover]:
    tagging = aws.client(settings, "resourcegroupstaggingapi")
    filters = [
        {"Key": PROJECT_TAG[0], "Values": [PROJECT_TAG[1]]},
        {"Key": "Environment", "Values": [settings.environment]},
    ]
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=filters):
        for mapping in page.get("ResourceTagMappingList", []):
            arn = mapping["ResourceARN"]
            if _ended(settings, arn):
                continue
            tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
            stack = f" (stack {tags['Stack']})" if "Stack" in tags else ""
            yield Leftover(service=arn.split(":")[2], resource=arn, note=f"tagged{stack}")


def _ended(settings: BootstrapSettings, arn: str) -> bool:
    """Whether `arn` names something deleted that AWS keeps showing for a while (and the tagging
    API with it), though nothing of it runs or costs: an INACTIVE ECS cluster, service or task
    definition revision, a STOPPED task, a `deleted` NAT gateway."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5]
    kind, _, name = resource.partition("/")
    if service == "ec2" and kind == "natgateway":
        gateways = aws.client(settings, "ec2").describe_nat_gateways(NatGatewayIds=[name])
        return all(g.get("State") in ("deleting", "deleted") for g in gateways["NatGateways"])
    if service != "ecs":
        return False
    ecs = aws.client(settings, "ecs")
    if kind == "cluster":
        return all(
            c.get("status") == "INACTIVE" for c in ecs.describe_clusters(clusters=[arn])["clusters"]
        )
    if kind == "service":
        found = ecs.describe_services(cluster=name.split("/")[0], services=[arn])["services"]
        return all(s.get("status") == "INACTIVE" for s in found)
    if kind == "task-definition":
        definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return definition.get("status") != "ACTIVE"
    if kind == "task":
        tasks = ecs.describe_tasks(cluster=name.split("/")[0], tasks=[arn])["tasks"]
        return all(t.get("lastStatus") == "STOPPED" for t in tasks)
    return False


def _roles(settings: BootstrapSettings) -> Iterator[Leftover]:
    iam = aws.client(settings, "iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["RoleName"].startswith(f"{settings.stack_name}-"):
                yield Leftover(service="iam", resource=role["Arn"], note="role by name")


def _task_definitions(settings: BootstrapSettings) -> Iterator[Leftover]:
    ecs = aws.client(settings, "ecs")
    prefixes = (settings.stack_name, WORKER_FAMILY.format(pool=settings.work_pool_name))
    for prefix in prefixes:
        for page in ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=prefix, status="ACTIVE"
        ):
            for arn in page["taskDefinitionArns"]:
                yield Leftover(service="ecs", resource=arn, note="active task definition")


def _named(settings: BootstrapSettings) -> Iterator[Leftover]:
    """Repositories and log groups by name: their tags are not always in the tagging API."""
    for repository in aws.client(settings, "ecr").describe_repositories()["repositories"]:
        if repository["repositoryName"].startswith(f"{settings.stack_name}-"):
            yield Leftover(service="ecr", resource=repository["repositoryArn"], note="by name")
    logs = aws.client(settings, "logs")
    for page in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=f"/ecs/{settings.stack_name}"
    ):
        for group in page["logGroups"]:
            yield Leftover(service="logs", resource=group["logGroupName"], note="by name")


def leftovers(settings: BootstrapSettings, kept: set[str] | None = None) -> list[Leftover]:
    """Everything AWS still holds for the environment, each once; `kept` ARNs are expected."""
    found: dict[str, Leftover] = {}
    for source in (_tagged, _roles, _task_definitions, _named):
        for leftover in source(settings):
            found.setdefault(leftover.resource, leftover)
    return [item for arn, item in sorted(found.items()) if arn not in (kept or set())]


def why_kept(item: Leftover, kept: dict[str, str]) -> str | None:
    """The note of a leftover that was kept on purpose (by ARN, name or identifier), else None."""
    for name, note in kept.items():
        if item.resource == name or item.resource.endswith((f":{name}", f"/{name}")):
            return note
    return kept.get(ANYTHING_ELSE)
