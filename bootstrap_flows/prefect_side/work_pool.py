"""The ECS work pool: its base job template's defaults come from what bootstrap provisioned.

Bootstrap owns a fixed set of defaults (cluster, network, roles, image, size, logs, the credential
secret, the observer queue, the CPU architecture, task-definition reuse) and the task
definition's `runtimePlatform` that reads the CPU architecture. Every other part of the template
is the user's: an edit there survives every re-run, and a template that would not change is not
written at all. A few defaults are only suggested (the container's memory, the env that sends
results to the results bucket): added when missing, never overwritten.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.client.schemas.objects import WorkPool
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect_aws.workers.ecs_worker import ECSWorker

from bootstrap_flows.config import names
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side import target_prefect
from bootstrap_flows.terraform.platform_stack import PlatformOutputs

POOL_TYPE = "ecs"
PoolChange = Literal["created", "updated", "unchanged"]

# A variable of ours, not prefect-aws's: it shows in the pool which queue the worker's ECS
# observer reads (the worker service gets it as an environment variable).
OBSERVER_QUEUE_VARIABLE = {
    "title": "Observer queue",
    "description": "SQS queue of ECS task state changes read by the worker's ECS observer "
    "(set by bootstrap-flows; the worker service reads it from its environment).",
    "type": "string",
}
# Ours as well: prefect-aws's template does not name the task's platform, so Fargate would run
# every flow run as X86_64 whatever the image is built for.
CPU_ARCHITECTURE_VARIABLE = {
    "title": "CPU architecture",
    "description": "runtimePlatform.cpuArchitecture of the flow run's task: X86_64 or ARM64 "
    "(Graviton). It must be the image's (set by bootstrap-flows from BOOTSTRAP_CPU_ARCHITECTURE).",
    "type": "string",
    "enum": ["X86_64", "ARM64"],
}
# And this: which environment the pool's defaults come from, so that another environment of the
# same pool name on the same Prefect is refused in its preflight instead of repointing the pool
# at its own cluster and VPC.
OWNER_VARIABLE = {
    "title": "Owned by",
    "description": "The bootstrap-flows environment this pool belongs to (environment, account, "
    "region, state bucket); bootstrap of another environment refuses the pool. Set by "
    "bootstrap-flows.",
    "type": "string",
}
OUR_VARIABLES = {
    "observer_queue_name": OBSERVER_QUEUE_VARIABLE,
    "cpu_architecture": CPU_ARCHITECTURE_VARIABLE,
    "bootstrap_owner": OWNER_VARIABLE,
}
# The task definition's platform, from that variable: owned, like the image it must match.
RUNTIME_PLATFORM = {"cpuArchitecture": "{{ cpu_architecture }}", "operatingSystemFamily": "LINUX"}


# prefect-aws's template variable for the secret, by the kind of credential it holds.
SECRET_FIELDS = {
    "PREFECT_API_KEY": "prefect_api_key_secret_arn",
    "PREFECT_API_AUTH_STRING": "prefect_api_auth_string_secret_arn",
}


class WorkPoolError(BootstrapError):
    """The pool cannot be managed as asked (e.g. a pool of another type has the name)."""


def owned_defaults(
    settings: BootstrapSettings, platform: PlatformOutputs, image_uri: str
) -> dict[str, Any]:
    """The template defaults bootstrap owns, from settings and stack outputs."""
    secret_field = SECRET_FIELDS[resolve(settings).prefect_credential_variable]
    return {
        "cluster": platform.cluster_arn,
        "vpc_id": platform.vpc_id,
        # prefect-aws wraps this in `awsvpcConfiguration` itself (and checks the subnets
        # belong to vpc_id).
        "network_configuration": {
            "subnets": platform.private_subnet_ids,
            "securityGroups": [platform.worker_security_group_id],
            "assignPublicIp": "DISABLED",
        },
        "execution_role_arn": platform.execution_role_arn,
        "task_role_arn": platform.flow_run_task_role_arn,
        "image": image_uri,
        "cpu": settings.flow_run_cpu,
        "memory": settings.flow_run_memory,
        "configure_cloudwatch_logs": True,
        "cloudwatch_logs_options": {
            "awslogs-group": platform.log_group_name,
            "awslogs-region": platform.region,
        },
        "cloudwatch_logs_prefix": "flow-runs",
        secret_field: platform.prefect_api_secret_arn,
        "observer_queue_name": platform.observer_queue_name,
        "cpu_architecture": settings.cpu_architecture,
        "bootstrap_owner": owner(settings, platform.cluster_arn.split(":")[4]),
        # prefect-aws remembers a deployment's task definition only in the worker's memory;
        # each new worker (a re-run's new image, a restart, a scale-out) would register one
        # more revision per deployment. With this it compares the family's latest revision
        # with what it would register and reuses it when equal.
        "match_latest_revision_in_family": True,
    }


def owner(settings: BootstrapSettings, account_id: str) -> str:
    """The environment a pool belongs to, as the pool records it."""
    return (
        f"environment {settings.environment!r} (account {account_id}, {settings.aws_region}, "
        f"state bucket {settings.state_bucket_name(account_id)})"
    )


def check_owner(settings: BootstrapSettings, account_id: str) -> None:
    """Before any change: a pool of this name on the worker's Prefect is an ECS pool of this
    environment, or none exists. Changes nothing."""
    name = settings.work_pool_name
    with target_prefect.client(settings) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            return
    _check_type(pool)
    defaults = {
        key: schema.get("default")
        for key, schema in pool.base_job_template.get("variables", {}).get("properties", {}).items()
    }
    recorded = defaults.get("bootstrap_owner")
    cluster = defaults.get("cluster")
    # A pool from before owners were recorded: its cluster says whose it is.
    ours_cluster = names.derived("ECS cluster").name(settings.name_prefix, settings.environment)
    if (
        recorded is None
        and cluster
        and not str(cluster).endswith(f":{account_id}:cluster/{ours_cluster}")
    ):
        recorded = f"the environment of cluster {cluster}"
    ours = owner(settings, account_id)
    if recorded is not None and recorded != ours:
        raise WorkPoolError(
            f"work pool {name!r} on the worker's Prefect belongs to {recorded}, not to "
            f"{ours}: two environments cannot share a pool; give {settings.environment!r} "
            "another BOOTSTRAP_WORK_POOL_NAME (nothing was changed)"
        )


def desired_template(
    current: dict[str, Any] | None,
    owned: dict[str, Any],
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`current` (or prefect-aws's default template) with bootstrap's owned defaults applied,
    and the `env` defaults each added where the pool's env lacks that variable."""
    default = ECSWorker.get_default_base_job_template()
    template = copy.deepcopy(current) if current else copy.deepcopy(default)
    properties = template.setdefault("variables", {}).setdefault("properties", {})
    known = default["variables"]["properties"]
    for name, value in owned.items():
        schema = properties.setdefault(name, copy.deepcopy(known.get(name) or OUR_VARIABLES[name]))
        schema["default"] = value
    task_definition = template.setdefault("job_configuration", {}).setdefault("task_definition", {})
    task_definition["runtimePlatform"] = dict(RUNTIME_PLATFORM)
    # Container-level memory too: Fargate accepts it, and the emulated ECS refuses RunTask
    # without it. Only added when missing, so a user's own value stays.
    containers = task_definition.get("containerDefinitions", [])
    if containers:
        containers[0].setdefault("memory", "{{ memory }}")
    # Same rule for the flow runs' env (where results go): a value a user set stays.
    if env:
        schema = properties.setdefault("env", copy.deepcopy(known["env"]))
        defaults = schema.get("default")
        schema["default"] = {**env, **(defaults if isinstance(defaults, dict) else {})}
    return template


def ensure_work_pool(
    settings: BootstrapSettings,
    platform: PlatformOutputs,
    image_uri: str,
    env: dict[str, str] | None = None,
) -> tuple[PoolChange, dict[str, Any]]:
    """Create the pool, update only what bootstrap owns (and add the `env` defaults a user has
    not set), or leave it alone if nothing changed."""
    owned = owned_defaults(settings, platform, image_uri)
    # On the Prefect the worker talks to, not necessarily the one running bootstrap.
    with target_prefect.client(settings) as client:
        try:
            pool = client.read_work_pool(settings.work_pool_name)
        except ObjectNotFound:
            template = desired_template(None, owned, env)
            try:
                client.create_work_pool(
                    WorkPoolCreate(
                        name=settings.work_pool_name,
                        type=POOL_TYPE,
                        base_job_template=template,
                        description=f"ECS Fargate pool of {settings.stack_name}, made by bootstrap",
                    )
                )
                return "created", template
            except ObjectAlreadyExists:
                # Our own worker service, started by the platform apply, registers its pool with
                # Prefect's default ECS template when it finds none; it may do so between the
                # read above and this create. Then the pool is updated like any existing one.
                pool = client.read_work_pool(settings.work_pool_name)
        _check_type(pool)  # preflight checked it; it may have changed since
        template = desired_template(pool.base_job_template, owned, env)
        if template == pool.base_job_template:
            return "unchanged", template
        client.update_work_pool(settings.work_pool_name, WorkPoolUpdate(base_job_template=template))
        return "updated", template


def _check_type(pool: WorkPool) -> None:
    if pool.type != POOL_TYPE:
        raise WorkPoolError(
            f"work pool {pool.name!r} exists on the worker's Prefect with type {pool.type!r}, "
            f"not {POOL_TYPE!r}; choose another name with BOOTSTRAP_WORK_POOL_NAME (nothing was "
            "changed)"
        )


def set_paused(settings: BootstrapSettings, paused: bool) -> bool | None:
    """Pause or resume the pool on the target Prefect: None when it does not exist, else
    whether this call changed it."""
    with target_prefect.client(settings) as client:
        try:
            pool = client.read_work_pool(settings.work_pool_name)
        except ObjectNotFound:
            return None
        if pool.is_paused == paused:
            return False
        client.update_work_pool(settings.work_pool_name, WorkPoolUpdate(is_paused=paused))
    return True
