"""The Prefect API's port reaches the worker security group as AWS holds it (issue 24 item 10).

Settings → `platform_variables` → the platform stack → `module.network`'s worker group, applied
on a moto of this test's own: only the VPC and the group (`-target`), from a copy of the stack
with a local backend. The rule that derives the port from the URL: tests/unit/terraform/
test_worker_egress.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.terraform.platform_stack import platform_variables
from tests.support.servers import moto_server
from tests.support.terraform_trees import (
    TERRAFORM_ROOT,
    copied_tree,
    moto_session,
    terraform_on_moto,
)

pytestmark = pytest.mark.slow

STACK = TERRAFORM_ROOT / "stacks" / "platform"
GROUP = "module.network.aws_security_group.worker"


def test_a_self_hosted_prefect_port_is_allowed_out_of_the_worker_group(tmp_path: Path) -> None:
    settings = load_settings(
        environment="egress",
        aws_region="us-east-1",
        prefect_api_url="http://prefect.internal:4200/api",
        prefect_api_auth_string="user:secret",
    )
    with moto_server(tmp_path / "moto.log") as endpoint:
        stack = copied_tree(tmp_path) / "stacks" / STACK.name
        (stack / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
        terraform = terraform_on_moto(endpoint, stack, tmp_path / "work")
        terraform.init(backend_config={"path": str(tmp_path / "platform.tfstate")})
        var_file = tmp_path / "vars.json"
        var_file.write_text(json.dumps(platform_variables(settings)))
        terraform.apply(terraform.plan(var_file=var_file, targets=[GROUP]))

        ec2 = moto_session().client("ec2", endpoint_url=endpoint)
        (group,) = ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [f"{settings.stack_name}-worker"]}]
        )["SecurityGroups"]
        egress = {
            (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
            for p in group["IpPermissionsEgress"]
            for r in p.get("IpRanges", [])
        }
        assert ("tcp", 4200, 4200, "0.0.0.0/0") in egress, sorted(egress)
        # What the group allowed before stays as it was.
        assert {("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 80, 80, "0.0.0.0/0")} <= egress
