"""Python's settings validation and Terraform's `validation` blocks accept the same values.

HCL cannot import the Python lists, so each rule exists twice; this test evaluates every copy
in Terraform itself (`terraform console`, tests/support/hcl.py) and compares. The names made
from name_prefix and environment are compared in test_names.py.
"""

from __future__ import annotations

import json
import re

import pytest

from bootstrap_flows.config.limits import (
    CPU_ARCHITECTURES,
    FARGATE_MEMORY,
    LOG_RETENTION_DAYS,
    REGION,
)
from bootstrap_flows.config.settings import SettingsError, load_settings
from tests.support.hcl import TERRAFORM, evaluate_all
from tests.support.hcl import conditions as _conditions
from tests.support.hcl import evaluate as _evaluate

RETENTIONS = sorted({*LOG_RETENTION_DAYS, 0, 2, 4, 13, 1828, 3654, 3650, 7300})
REGIONS = [
    "us-east-1",
    "eu-central-1",
    "ap-southeast-2",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "cn-north-1",
    "US-east-1",
    "us-east",
    "useast-1",
    "us-east-12",
    "us-east-1a",
    "u-east-1",
]


def _terraform_accepts(condition: str, variable: str, values: list[str]) -> list[bool]:
    # A function as the replacement: a value's backslashes (HCL escapes) stay as written.
    expressions = [
        re.sub(rf"\bvar\.{variable}\b", lambda _, v=value: v, condition) for value in values
    ]
    return evaluate_all(expressions)


def _python_accepts(**setting: object) -> bool:
    try:
        load_settings(**setting)
    except SettingsError:
        return False
    return True


@pytest.mark.parametrize(
    "variable", ["log_retention_days", "retention_in_days", "flow_logs_retention_days"]
)
def test_retention_rules_agree(variable: str) -> None:
    conditions = _conditions(variable)
    assert conditions, f"no Terraform validation tests var.{variable}"
    python = [_python_accepts(log_retention_days=days) for days in RETENTIONS]
    assert python == [days in LOG_RETENTION_DAYS for days in RETENTIONS]
    for where, condition in conditions:
        terraform = _terraform_accepts(condition, variable, [str(d) for d in RETENTIONS])
        assert terraform == python, f"{where}: {condition}"


def test_region_rules_agree() -> None:
    conditions = _conditions("region")
    assert len(conditions) >= 3
    python = [_python_accepts(aws_region=region) for region in REGIONS]
    assert python == [bool(REGION.match(region)) for region in REGIONS]
    assert python.count(True) == 7 and python.count(False) == 6
    for where, condition in conditions:
        terraform = _terraform_accepts(condition, "region", [f'"{r}"' for r in REGIONS])
        assert terraform == python, f"{where}: {condition}"


def test_fargate_sizes_agree() -> None:
    main = (TERRAFORM / "modules" / "worker_service" / "main.tf").read_text()
    block = re.search(r"fargate_memory = (\{.*?\n  \})", main, re.DOTALL)
    assert block, "modules/worker_service no longer defines local.fargate_memory"
    # One line for the piped console: the object's entries joined by commas.
    entries = [line.strip() for line in block.group(1).strip("{}").splitlines() if line.strip()]
    table = _evaluate("{" + ", ".join(entries) + "}")
    assert {int(cpu): memory for cpu, memory in table.items()} == FARGATE_MEMORY


BOUNDARIES = [
    "arn:aws:iam::123456789012:policy/acme-boundary",
    "arn:aws:iam::123456789012:policy/path/to/boundary",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws-us-gov:iam::123456789012:policy/boundary",
    "arn:aws-cn:iam::123456789012:policy/boundary",
    "arn:aws:iam::123456789012:role/boundary",
    "arn:aws:iam::12345678901:policy/boundary",
    "arn:aws:iam::123456789012:policy/",
    "arn:aws:iam:us-east-1:123456789012:policy/boundary",
    "acme-boundary",
    "arn:aws:iam::123456789012:policy/boundary\n",
    " arn:aws:iam::123456789012:policy/boundary",
]


def test_permissions_boundary_rules_agree() -> None:
    conditions = _conditions("permissions_boundary_arn")
    # iam, ci, network, prefect_server, and the platform and server stacks
    assert len(conditions) >= 6
    python = [_python_accepts(permissions_boundary_arn=arn) for arn in BOUNDARIES]
    assert python.count(True) == 5 and python.count(False) == 7
    for where, condition in conditions:
        terraform = _terraform_accepts(
            condition, "permissions_boundary_arn", [json.dumps(a) for a in BOUNDARIES]
        )
        assert terraform == python, f"{where}: {condition}"


def test_cpu_architecture_rules_agree() -> None:
    conditions = _conditions("cpu_architecture")
    # The worker service's and the server's task definitions, and the two stacks' inputs.
    assert len(conditions) >= 4, conditions
    values = [*CPU_ARCHITECTURES, "arm64", "x86_64", "AMD64", "aarch64", ""]
    python = [_python_accepts(cpu_architecture=value) for value in values]
    assert python == [value in CPU_ARCHITECTURES for value in values]
    assert python.count(True) == 2
    for where, condition in conditions:
        terraform = _terraform_accepts(condition, "cpu_architecture", [f'"{v}"' for v in values])
        assert terraform == python, f"{where}: {condition}"
