"""The pool template, computed without a server: owned defaults and what survives a user edit."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from prefect_aws.workers.ecs_worker import ECSJobConfiguration, ECSWorker

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.prefect_side.work_pool import (
    OBSERVER_QUEUE_VARIABLE,
    desired_template,
    owned_defaults,
)
from tests.support.samples import IMAGE, OUTPUTS

KEY = {"environment": "prod", "prefect_api_url": "https://api.example.com/api"}


def defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get("default") for k, v in template["variables"]["properties"].items()}


def test_owned_defaults_put_flow_runs_in_the_private_subnets() -> None:
    owned = owned_defaults(load_settings(), OUTPUTS, IMAGE)
    assert owned["network_configuration"] == {
        "subnets": ["subnet-priv1", "subnet-priv2"],
        "securityGroups": ["sg-worker"],
        "assignPublicIp": "DISABLED",
    }
    assert owned["task_role_arn"] == OUTPUTS.flow_run_task_role_arn
    assert owned["execution_role_arn"] == OUTPUTS.execution_role_arn
    assert (owned["image"], owned["cpu"], owned["memory"]) == (IMAGE, 512, 1024)
    assert owned["cloudwatch_logs_options"] == {
        "awslogs-group": "/ecs/p",
        "awslogs-region": "us-east-1",
    }
    assert owned["observer_queue_name"] == "q"


def test_the_secret_field_follows_the_kind_of_credential() -> None:
    auth = owned_defaults(load_settings(), OUTPUTS, IMAGE)  # the tests' auth string
    assert auth["prefect_api_auth_string_secret_arn"] == OUTPUTS.prefect_api_secret_arn
    assert "prefect_api_key_secret_arn" not in auth
    key = owned_defaults(
        load_settings(**KEY, prefect_api_auth_string=None, prefect_api_key="pnu_x"), OUTPUTS, IMAGE
    )
    assert key["prefect_api_key_secret_arn"] == OUTPUTS.prefect_api_secret_arn
    assert "prefect_api_auth_string_secret_arn" not in key


def test_new_template_is_prefect_aws_default_plus_owned_values() -> None:
    owned = owned_defaults(load_settings(), OUTPUTS, IMAGE)
    template = desired_template(None, owned)
    stock = ECSWorker.get_default_base_job_template()
    assert set(template["variables"]["properties"]) == {
        *stock["variables"]["properties"],
        "observer_queue_name",
        "cpu_architecture",
        "bootstrap_owner",
    }
    assert {k: defaults(template)[k] for k in owned} == owned
    assert (
        template["variables"]["properties"]["observer_queue_name"]["title"]
        == (OBSERVER_QUEUE_VARIABLE["title"])
    )
    container = template["job_configuration"]["task_definition"]["containerDefinitions"][0]
    assert container["memory"] == "{{ memory }}"
    # Applying the same owned values again changes nothing: no needless pool rewrite.
    assert desired_template(copy.deepcopy(template), owned) == template


def test_user_edits_of_other_fields_and_container_memory_survive() -> None:
    owned = owned_defaults(load_settings(), OUTPUTS, IMAGE)
    edited = desired_template(None, owned)
    edited["variables"]["properties"]["env"]["default"] = {"TEAM": "data"}
    container = edited["job_configuration"]["task_definition"]["containerDefinitions"][0]
    container["memory"] = 4096
    edited["variables"]["properties"]["cpu"]["default"] = 4096  # owned: set back
    again = desired_template(edited, owned)
    assert defaults(again)["env"] == {"TEAM": "data"}
    assert defaults(again)["cpu"] == 512
    assert (
        again["job_configuration"]["task_definition"]["containerDefinitions"][0]["memory"] == 4096
    )


RESULTS_ENV = {
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": "s3-bucket/prefect-local-results",
}


def test_results_env_is_added_where_missing_and_a_users_value_stays() -> None:
    owned = owned_defaults(load_settings(), OUTPUTS, IMAGE)
    template = desired_template(None, owned, RESULTS_ENV)
    assert defaults(template)["env"] == RESULTS_ENV
    assert desired_template(copy.deepcopy(template), owned, RESULTS_ENV) == template
    # A user turns persistence off and adds a variable: both stay; the block is still added.
    template["variables"]["properties"]["env"]["default"] = {
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
        "TEAM": "data",
    }
    again = desired_template(template, owned, RESULTS_ENV)
    assert defaults(again)["env"] == {
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
        "TEAM": "data",
        "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": "s3-bucket/prefect-local-results",
    }


def _rendered_task_definition(template: dict[str, Any], **values: Any) -> dict[str, Any]:
    """The task definition prefect-aws's worker registers for a run with these job variables."""
    config = asyncio.run(ECSJobConfiguration.from_template_and_values(template, values))
    return dict(config.task_definition)


def test_flow_runs_get_the_architecture_the_image_is_built_for() -> None:
    owned = owned_defaults(load_settings(cpu_architecture="ARM64"), OUTPUTS, IMAGE)
    template = desired_template(None, owned)
    platform = {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    assert _rendered_task_definition(template)["runtimePlatform"] == platform
    # A deployment whose own image is built for x86 says so in its job variables.
    x86 = _rendered_task_definition(template, cpu_architecture="X86_64")
    assert x86["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    # Owned, like the image: a user's fixed platform is set back to the variable.
    template["job_configuration"]["task_definition"]["runtimePlatform"] = {
        "cpuArchitecture": "X86_64"
    }
    again = desired_template(template, owned)
    assert _rendered_task_definition(again)["runtimePlatform"] == platform
    schema = again["variables"]["properties"]["cpu_architecture"]
    assert schema["enum"] == ["X86_64", "ARM64"] and schema["default"] == "ARM64"
