"""`cpu_architecture` reaches every task definition that runs the worker image.

From settings through the stacks' variables (the ones the flow passes, each declared by the
stack) into the modules' `runtime_platform` blocks. Text checks of `terraform fmt`-laid-out
files, like test_module_docs: no provider, no plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.terraform import server_stack, worker_stack
from tests.support.samples import IMAGE, OUTPUTS

TERRAFORM = load_settings().terraform_dir
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/example"
_RUNTIME_PLATFORM = re.compile(
    r'runtime_platform \{\s*operating_system_family = "LINUX"\s*'
    r"cpu_architecture\s*= var\.cpu_architecture\s*\}"
)

pytestmark = pytest.mark.usefixtures("clean_env")

Variables = Callable[[BootstrapSettings], dict[str, Any]]
STACKS: dict[str, tuple[str, str, Variables]] = {
    "worker": (
        "worker_service",
        "worker_service",
        lambda s: worker_stack.worker_variables(s, OUTPUTS, IMAGE),
    ),
    "server": (
        "server",
        "prefect_server",
        lambda s: server_stack.server_variables(s, OUTPUTS, IMAGE),
    ),
}


def _settings(stack: str) -> BootstrapSettings:
    prefect: dict[str, Any] = (
        {"prefect_server": "aws", "server_certificate_arn": CERTIFICATE_ARN}
        if stack == "server"
        else {"prefect_api_url": "https://api.example.com/api", "prefect_api_key": "pnu_x"}
    )
    return load_settings(environment="prod", cpu_architecture="ARM64", **prefect)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_architecture_goes_from_settings_to_the_task_definition(stack: str) -> None:
    module_call, module, variables = STACKS[stack]
    passed = variables(_settings(stack))
    assert passed["cpu_architecture"] == "ARM64"
    # Terraform only warns about a -var-file value no variable declares: check each is one.
    declared = set(
        re.findall(
            r'^variable "([a-z_0-9]+)" \{',
            (TERRAFORM / f"stacks/{stack}/variables.tf").read_text(),
            re.MULTILINE,
        )
    )
    assert set(passed) - declared == set()
    main = (TERRAFORM / f"stacks/{stack}/main.tf").read_text()
    call = main.split(f'module "{module_call}" {{', 1)[1].split("\n}", 1)[0]
    assert re.search(r"^\s*cpu_architecture\s*= var\.cpu_architecture$", call, re.MULTILINE)
    task_definition = (TERRAFORM / f"modules/{module}/main.tf").read_text()
    assert len(_RUNTIME_PLATFORM.findall(task_definition)) == 1
