"""The teardown receipt: what AWS still holds for the environment, listed from AWS itself.

Not Terraform's word for it: the Resource Groups Tagging API lists everything tagged for the
environment (every stack tags Project and Environment), and a listing per service covers what
that API does not see (IAM roles, ECS task definitions, ECR repositories, log groups and
secrets by name). A listing by name keeps the names bootstrap derives for the environment
(config/names.py), whole: `<prefix>-<env>-` also begins every name of an environment called
`<env>-<more>` (`dev` and `dev-2`), whose resources are not this one's. A clean teardown leaves
nothing but the state bucket, unless that was asked for too, and the Prefect API secret waiting
out its recovery window: listed as such, not as left behind, since the next bootstrap restores
it (terraform/adoption_aws.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup.task_definitions import active_revisions, worker_revisions
from bootstrap_flows.config import names
from bootstrap_flows.config.settings import BootstrapSettings

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ecr.client import ECRClient
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

PROJECT_TAG = ("Project", "bootstrap-flows")
# The key of `kept` whose note applies to every leftover not named otherwise.
ANYTHING_ELSE = "*"
# The note of a secret a teardown scheduled for deletion (its recovery window, platform_stack.py).
SCHEDULED = "scheduled for deletion until {date}, restored by the next bootstrap"
# Describe calls in flight at once while the receipt checks what the tagging API lists.
_LOOKUPS = 8


class Leftover(BaseModel):
    service: str
    resource: str
    note: str = ""
    # Still in AWS by design (its note says why): never reported as left behind.
    expected: bool = Field(default=False, exclude=True)


class Clients:
    """The receipt's AWS clients, made once and shared by its threads (for calls only: boto3
    clients are thread-safe)."""

    def __init__(self, settings: BootstrapSettings) -> None:
        self.tagging = aws.client(settings, "resourcegroupstaggingapi")
        self.ecs: ECSClient = aws.client(settings, "ecs")
        self.ec2: EC2Client = aws.client(settings, "ec2")
        self.iam: IAMClient = aws.client(settings, "iam")
        self.ecr: ECRClient = aws.client(settings, "ecr")
        self.logs: CloudWatchLogsClient = aws.client(settings, "logs")
        self.secrets: SecretsManagerClient = aws.client(settings, "secretsmanager")


def _tagged(settings: BootstrapSettings, clients: Clients) -> Iterator[Leftover]:
    filters = [
        {"Key": PROJECT_TAG[0], "Values": [PROJECT_TAG[1]]},
        {"Key": "Environment", "Values": [settings.environment]},
    ]
    mappings = [
        mapping
        for page in clients.tagging.get_paginator("get_resources").paginate(TagFilters=filters)
        for mapping in page.get("ResourceTagMappingList", [])
    ]
    # One describe call each, side by side.
    with ThreadPoolExecutor(max_workers=_LOOKUPS) as pool:
        ended = list(pool.map(lambda m: _ended(clients, m["ResourceARN"]), mappings))
    for mapping, gone in zip(mappings, ended, strict=True):
        if gone:
            continue
        arn = mapping["ResourceARN"]
        tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
        stack = f" (stack {tags['Stack']})" if "Stack" in tags else ""
        yield Leftover(service=arn.split(":")[2], resource=arn, note=f"tagged{stack}")


def _ended(clients: Clients, arn: str) -> bool:
    """Whether `arn` names something deleted that AWS keeps showing for a while (and the tagging
    API with it), though nothing of it runs or costs: an INACTIVE ECS cluster, service or task
    definition revision, a STOPPED task, a `deleted` NAT gateway."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5]
    kind, _, name = resource.partition("/")
    if service == "ec2" and kind == "natgateway":
        gateways = clients.ec2.describe_nat_gateways(NatGatewayIds=[name])["NatGateways"]
        return all(g.get("State") in ("deleting", "deleted") for g in gateways)
    if service != "ecs":
        return False
    ecs = clients.ecs
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


def _ours(settings: BootstrapSettings, kind: str) -> frozenset[str]:
    """The environment's derived names of one kind (a key of names.rules)."""
    return frozenset(
        each.name(settings.name_prefix, settings.environment)
        for each in names.DERIVED
        if each.kind == kind
    )


def _roles(settings: BootstrapSettings, clients: Clients) -> Iterator[Leftover]:
    ours = _ours(settings, "IAM role")
    for page in clients.iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["RoleName"] in ours:
                yield Leftover(service="iam", resource=role["Arn"], note="role by name")


def _task_definitions(settings: BootstrapSettings, clients: Clients) -> Iterator[Leftover]:
    # The worker's and server's families (listed by `<stack>-`, kept by whole name), and those
    # the worker registers.
    prefix = names.stack_prefix(settings.name_prefix, settings.environment)
    families = {
        names.derived(family).name(settings.name_prefix, settings.environment)
        for family in ("worker task family", "server task family")
    }
    arns = active_revisions(clients.ecs, prefix, families.__contains__) + worker_revisions(
        clients.ecs, settings.work_pool_name
    )
    for arn in arns:
        yield Leftover(service="ecs", resource=arn, note="active task definition")


def _named(settings: BootstrapSettings, clients: Clients) -> Iterator[Leftover]:
    """Repositories and log groups by name: their tags are not always in the tagging API."""
    ours = _ours(settings, "ECR repository")
    for listed in clients.ecr.get_paginator("describe_repositories").paginate():
        for repository in listed["repositories"]:
            if repository["repositoryName"] in ours:
                yield Leftover(service="ecr", resource=repository["repositoryArn"], note="by name")
    # The log group, and any below it: `/ecs/<prefix>-<env>` also begins `/ecs/<prefix>-<env>-2`.
    group = names.derived("log group").name(settings.name_prefix, settings.environment)
    for page in clients.logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=group
    ):
        for found in page["logGroups"]:
            name = found["logGroupName"]
            if name == group or name.startswith(f"{group}/"):
                yield Leftover(service="logs", resource=name, note="by name")


def _secrets(settings: BootstrapSettings, clients: Clients) -> Iterator[Leftover]:
    """The environment's secrets by name (`<prefix>/<environment>/`), with those scheduled for
    deletion, which every teardown leaves for the secret's recovery window."""
    prefix = f"{settings.name_prefix}/{settings.environment}/"
    for page in clients.secrets.get_paginator("list_secrets").paginate(
        IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [prefix]}]
    ):
        for secret in page["SecretList"]:
            if not secret.get("Name", "").startswith(prefix):
                continue  # a prefix match already; checked again so no other name slips in
            deleted = secret.get("DeletedDate")
            yield Leftover(
                service="secretsmanager",
                resource=secret["ARN"],
                note=SCHEDULED.format(date=f"{deleted:%Y-%m-%d}") if deleted else "by name",
                expected=deleted is not None,
            )


def leftovers(
    settings: BootstrapSettings, kept: set[str] | None = None, clients: Clients | None = None
) -> list[Leftover]:
    """Everything AWS still holds for the environment, each once; `kept` ARNs are expected.

    The listings are independent: they run side by side, on `clients` (made here if None)."""
    made = clients or Clients(settings)
    found: dict[str, Leftover] = {}
    # Secrets first: their row (scheduled for deletion or not) wins over the tagging API's.
    sources = (_secrets, _tagged, _roles, _task_definitions, _named)
    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        listed = list(pool.map(lambda source: list(source(settings, made)), sources))
    for leftover in (each for items in listed for each in items):
        found.setdefault(leftover.resource, leftover)
    return [item for arn, item in sorted(found.items()) if arn not in (kept or set())]


def why_kept(item: Leftover, kept: dict[str, str]) -> str | None:
    """The note of a leftover that was kept on purpose (by ARN, name or identifier) or is
    expected (a secret scheduled for deletion), else None."""
    if item.expected:
        return item.note
    for name, note in kept.items():
        if item.resource == name or item.resource.endswith((f":{name}", f"/{name}")):
            return note
    return kept.get(ANYTHING_ELSE)
