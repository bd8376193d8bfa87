"""Every AWS name bootstrap derives from `name_prefix` and `environment`, and AWS's rule for each.

A name AWS would refuse must stop the run in settings, before the state bucket is made, not in
Terraform's validation or AWS's answer half-way through an apply. The names are derived here as
the Terraform stacks and modules derive them (`terraform` says where, and
tests/unit/test_names.py evaluates that Terraform expression and compares); the rules are AWS's,
read from botocore's service models where they carry `max`/`pattern`, else from the page cited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import botocore.session

# What a derived name holds besides prefix and environment: an account ID is always 12 digits,
# and the final snapshot's suffix is `formatdate("YYYYMMDDhhmmss", ...)`: 14 digits.
ACCOUNT = "123456789012"
TIMESTAMP = "20260101000000"
S3_RULES = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"


@dataclass(frozen=True)
class Rule:
    """AWS's rule for one kind of name: length, characters (a full-match pattern), start/end."""

    kind: str
    max: int
    pattern: str
    says: str  # the pattern in words, for the message
    not_start: tuple[str, ...] = ()
    source: str = ""

    def problem(self, name: str) -> str | None:
        """Why AWS would refuse `name` (length first, then start, then characters), or None."""
        if len(name) > self.max:
            return f"{len(name)} characters; AWS allows {self.max}"
        start = next((bad for bad in self.not_start if name.startswith(bad)), None)
        if start:
            return f"start with {start!r}, which AWS refuses"
        if not re.fullmatch(self.pattern, name):
            return f"break AWS's rule ({self.says})"
        return None


@cache
def _shape(service: str, shape: str) -> tuple[int, str]:
    """`max` and `pattern` of a string shape in botocore's bundled service model (no network);
    "" where the model gives no pattern."""
    loader = botocore.session.get_session().get_component("data_loader")
    found = loader.load_service_model(service, "service-2")["shapes"][shape]
    return int(found["max"]), str(found.get("pattern", ""))


def _botocore(kind: str, service: str, shape: str, says: str) -> Rule:
    maximum, pattern = _shape(service, shape)
    return Rule(kind, maximum, pattern, says, source=f"botocore {service} {shape}")


_ELB = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
_RDS = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
_ECS = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html"
_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
_ALNUM_HYPHENS = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_RDS_NAME = "[A-Za-z](?:-?[A-Za-z0-9])*"
_RDS_SAYS = (
    "letters, digits and hyphens, starting with a letter, no two hyphens in a row, "
    "not ending with one"
)


# The rules botocore's models do not carry, typed from the AWS page each cites.
_DOCUMENTED = (
    Rule(
        "S3 bucket",
        63,
        "[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?",
        "lowercase letters, digits, dots and hyphens",
        not_start=("xn--", "sthree-", "amzn-s3-demo-"),
        source=S3_RULES,
    ),
    Rule("SQS queue", 80, "[A-Za-z0-9_-]+", "letters, digits, _ and -", source=_SQS),
    Rule("ECS name", 255, "[A-Za-z0-9_-]+", "letters, digits, _ and -", source=_ECS),
    Rule(
        "load balancer",
        32,
        _ALNUM_HYPHENS,
        "letters, digits and hyphens, not starting or ending with a hyphen",
        not_start=("internal-",),
        source=f"{_ELB}API_CreateLoadBalancer.html",
    ),
    Rule(
        "target group",
        32,
        _ALNUM_HYPHENS,
        "letters, digits and hyphens, not starting or ending with a hyphen",
        source=f"{_ELB}API_CreateTargetGroup.html",
    ),
    Rule("RDS instance", 63, _RDS_NAME, _RDS_SAYS, source=_RDS),
    Rule("RDS snapshot", 255, _RDS_NAME, _RDS_SAYS, source=_RDS),
    Rule(
        "DB subnet group",
        255,
        "[A-Za-z][A-Za-z0-9._ -]*",
        "letters, digits, . _ - and spaces, starting with a letter",
        source=_RDS,
    ),
)


@cache
def rules() -> dict[str, Rule]:
    """Every rule by the kind of name it governs (botocore's models are read once, on first use)."""
    from_models = (
        _botocore(
            "ECR repository",
            "ecr",
            "RepositoryName",
            "lowercase letters and digits, parted by . _ or -",
        ),
        _botocore("IAM role", "iam", "roleNameType", "letters, digits and +=,.@_-"),
        _botocore("IAM policy", "iam", "policyNameType", "letters, digits and +=,.@_-"),
        _botocore("log group", "logs", "LogGroupName", "letters, digits and ._/#-"),
        _botocore("EventBridge rule", "events", "RuleName", "letters, digits and ._-"),
        # The model has the length only; the characters are CreateSecret's documented ones.
        Rule(
            "secret",
            _shape("secretsmanager", "NameType")[0],
            "[A-Za-z0-9/_+=.@-]+",
            "letters, digits and /_+=.@-",
            source="botocore secretsmanager NameType",
        ),
    )
    return {rule.kind: rule for rule in (*from_models, *_DOCUMENTED)}


@dataclass(frozen=True)
class Derived:
    """One name: what it is, its kind (a key of `rules`), its template over {prefix},
    {environment}, {account}, {timestamp}, and where Terraform derives it ("" if Python does):
    `<stack>:<module block>:<resource address>.<attribute>`."""

    what: str
    kind: str
    template: str
    terraform: str
    server: bool = False

    def name(self, prefix: str, environment: str, account: str = ACCOUNT) -> str:
        return self.template.format(
            prefix=prefix, environment=environment, account=account, timestamp=TIMESTAMP
        )


_S = "{prefix}-{environment}"
DERIVED = (
    Derived("state bucket", "S3 bucket", f"{_S}-tfstate-{{account}}", ""),
    Derived(
        "ECR repository",
        "ECR repository",
        f"{_S}-worker",
        "platform:ecr:aws_ecr_repository.this.name",
    ),
    Derived(
        "flow-code bucket",
        "S3 bucket",
        f"{_S}-code-{{account}}",
        "platform:storage:var.code_bucket_name",
    ),
    Derived(
        "flow-results bucket",
        "S3 bucket",
        f"{_S}-results-{{account}}",
        "platform:storage:var.results_bucket_name",
    ),
    Derived(
        "execution role", "IAM role", f"{_S}-execution", "platform:iam:aws_iam_role.execution.name"
    ),
    Derived(
        "worker task role", "IAM role", f"{_S}-worker-task", "platform:iam:aws_iam_role.worker.name"
    ),
    Derived(
        "flow-run task role",
        "IAM role",
        f"{_S}-flow-run-task",
        "platform:iam:aws_iam_role.flow_run.name",
    ),
    Derived(
        "flow-logs role",
        "IAM role",
        f"{_S}-vpc-flow-logs",
        "platform:network:aws_iam_role.flow_logs.name",
    ),
    Derived("CI role", "IAM role", f"{_S}-ci", "platform:ci:aws_iam_role.this.name"),
    Derived("operator policy", "IAM policy", f"{_S}-operator", ""),
    Derived(
        "log group", "log group", f"/ecs/{_S}", "platform:logs:aws_cloudwatch_log_group.this.name"
    ),
    Derived(
        "flow-logs log group",
        "log group",
        f"/vpc/{_S}/flow-logs",
        "platform:network:aws_cloudwatch_log_group.flow_logs.name",
    ),
    Derived(
        "API key secret",
        "secret",
        "{prefix}/{environment}/prefect-api-key",
        "platform:secrets:aws_secretsmanager_secret.this.name",
    ),
    Derived(
        "ECS cluster", "ECS name", f"{_S}-cluster", "platform:cluster:aws_ecs_cluster.this.name"
    ),
    Derived(
        "task-events queue",
        "SQS queue",
        f"{_S}-ecs-task-events",
        "platform:observer:aws_sqs_queue.this.name",
    ),
    Derived(
        "task-events dead-letter queue",
        "SQS queue",
        f"{_S}-ecs-task-events-dlq",
        "platform:observer:aws_sqs_queue.dlq.name",
    ),
    Derived(
        "EventBridge rule",
        "EventBridge rule",
        f"{_S}-ecs-task-events",
        "platform:observer:aws_cloudwatch_event_rule.this.name",
    ),
    Derived(
        "worker service",
        "ECS name",
        f"{_S}-worker",
        "worker:worker_service:aws_ecs_service.this.name",
    ),
    Derived(
        "worker task family",
        "ECS name",
        f"{_S}-worker",
        "worker:worker_service:aws_ecs_task_definition.this.family",
    ),
    Derived(
        "load balancer",
        "load balancer",
        f"{_S}-server",
        "server:server:aws_lb.this.name",
        server=True,
    ),
    Derived(
        "target group",
        "target group",
        f"{_S}-server",
        "server:server:aws_lb_target_group.this.name",
        server=True,
    ),
    Derived(
        "RDS instance",
        "RDS instance",
        f"{_S}-server",
        "server:server:aws_db_instance.this.identifier",
        server=True,
    ),
    Derived(
        "final snapshot",
        "RDS snapshot",
        f"{_S}-server-final-{{timestamp}}",
        "server:server:aws_db_instance.this.final_snapshot_identifier",
        server=True,
    ),
    Derived(
        "DB subnet group",
        "DB subnet group",
        f"{_S}-server",
        "server:server:aws_db_subnet_group.this.name",
        server=True,
    ),
    Derived(
        "server auth secret",
        "secret",
        f"{_S}-server/auth-string",
        "server:server:aws_secretsmanager_secret.auth.name",
        server=True,
    ),
    Derived(
        "server execution role",
        "IAM role",
        f"{_S}-server-execution",
        "server:server:aws_iam_role.execution.name",
        server=True,
    ),
    Derived(
        "server task role",
        "IAM role",
        f"{_S}-server-task",
        "server:server:aws_iam_role.task.name",
        server=True,
    ),
    Derived(
        "server task family",
        "ECS name",
        f"{_S}-server",
        "server:server:aws_ecs_task_definition.this.family",
        server=True,
    ),
    Derived(
        "server service",
        "ECS name",
        f"{_S}-server",
        "server:server:aws_ecs_service.this.name",
        server=True,
    ),
)


def derived(what: str) -> Derived:
    """The derived name called `what` (e.g. "state bucket"), for code that makes or finds it."""
    return next(each for each in DERIVED if each.what == what)


# Kinds with one namespace per account whatever the region: IAM's (global), and S3's (global).
ACCOUNT_WIDE = frozenset({"IAM role", "IAM policy", "S3 bucket"})


@dataclass(frozen=True)
class Owner:
    """What decides an environment's names, and where they live (its account is the caller's)."""

    prefix: str
    environment: str
    server: bool
    region: str

    def names(self) -> dict[tuple[str, str], str]:
        """(kind, name) -> what it is, for every name this environment makes."""
        return {
            (each.kind, each.name(self.prefix, self.environment)): each.what
            for each in DERIVED
            if self.server or not each.server
        }


def clash(first: Owner, second: Owner) -> str | None:
    """The first name two environments of one account would both make, as one message (each
    would adopt, change or destroy the other's); None if they share none. E.g. `dev` with a
    server stack and `dev-server` both name the role `<prefix>-dev-server-execution`."""
    mine = first.names()
    for (kind, name), what in second.names().items():
        theirs = mine.get((kind, name))
        if theirs and (kind in ACCOUNT_WIDE or first.region == second.region):
            return (
                f"environments {first.environment!r} and {second.environment!r} would both make "
                f"the {kind} {name!r} (the {theirs} of one, the {what} of the other), so each "
                "would take over the other's: rename one, or give it another BOOTSTRAP_NAME_PREFIX"
            )
    return None


def stack_prefix(prefix: str, environment: str) -> str:
    """What the `<stack>-` names of DERIVED start with (roles, ECS names, the repository): the
    listings that find an environment's leftovers by name search by it."""
    return _S.format(prefix=prefix, environment=environment) + "-"


def problem(
    prefix: str, environment: str, *, server: bool, state_bucket: bool = True
) -> str | None:
    """The first derived name AWS would refuse, as one message naming it and the limit; None if
    AWS takes them all. `server`: the server stack's names too; `state_bucket`: bootstrap names
    the state bucket (no `state_bucket` setting)."""
    for derived in DERIVED:
        if (derived.server and not server) or (derived.what == "state bucket" and not state_bucket):
            continue
        name = derived.name(prefix, environment)
        why = rules()[derived.kind].problem(name)
        if why:
            too_long = len(name) > rules()[derived.kind].max
            fix = (
                "shorten BOOTSTRAP_NAME_PREFIX or the environment name"
                if too_long
                else "choose another BOOTSTRAP_NAME_PREFIX"
            )
            return (
                f"name_prefix {prefix!r} with environment {environment!r} makes the "
                f"{derived.what} name {name!r} {why}: {fix}"
            )
    return None
