"""The operator policy's one copy (modules/operator/policy.json.tftpl) as the product renders
it for `bootstrap-flows operator-policy <env>`: the same text Terraform's templatefile makes,
scoped to the environment's names, account and region."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bootstrap_flows import cli
from bootstrap_flows.config.environments import ENVIRONMENT_MAX, PREFIX_MAX
from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.safety import operator_policy, service_linked_roles
from bootstrap_local import provider_mirror
from bootstrap_local.iam_policy import Request, decide
from tests.support import hcl

ACCOUNT = "210987654321"
MAIN_TF = operator_policy.MODULE / "main.tf"
# The statements whose resources are "*", limited to the region: reads without resource-level
# permissions, and the request of a certificate that does not exist yet.
UNSCOPED = {"ReadOnlyWithoutResourceLevelPermissions", "ServerCertificateRequest"}
GLOBAL = "TeardownReceiptListsRoles"  # IAM: no resource, no region
# Scoped to account and region only, as the module README says why: EC2 IDs are generated,
# RDS names its managed master secret, preflight simulates a caller of any name, the server's
# certificate and Route 53 zone are the user's (IDs ACM and Route 53 generate), as are Route 53's
# change IDs; service-linked roles (bootstrap_flows/safety/service_linked_roles.py) and GitHub's
# OIDC provider (one per URL) are the account's, not an environment's.
NOT_BY_NAME = (
    ":ec2:",
    ":secret:rds!",
    ":role/*",
    ":user/*",
    ":role/aws-service-role/",
    ":acm:",
    ":route53:::hostedzone/*",
    ":route53:::change/*",
    ":oidc-provider/token.actions.githubusercontent.com",
)
# ARNs that name no account: S3 buckets (their names do) and Route 53 zones (global IDs).
NO_ACCOUNT = ("arn:aws:s3:::", "arn:aws:route53:::")


def _resources(statement: dict[str, object]) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else list(resource)  # type: ignore[arg-type]


def test_the_template_renders_alike_in_terraform_and_python() -> None:
    """Only `${name}` placeholders, each passed by main.tf's templatefile call: no directive
    or escape that Terraform would read differently from the product's substitution."""
    text = operator_policy.TEMPLATE.read_text()
    assert "%{" not in text and "$${" not in text
    passed = set(
        re.findall(r"^\s+([a-z_]+)\s+=", MAIN_TF.read_text().split("templatefile")[1], re.M)
    )
    used = set(operator_policy.PLACEHOLDER.findall(text))
    assert used <= passed, used - passed
    assert used == set(operator_policy.names(load_settings(environment="local"), ACCOUNT))


def test_every_statement_is_scoped_to_the_environment_or_says_why_not() -> None:
    settings = load_settings(environment="local")
    document = operator_policy.render(settings, ACCOUNT)
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        for resource in _resources(statement):
            if resource == "*" and statement["Sid"] == GLOBAL:
                assert statement["Action"] == ["iam:ListRoles"]
                continue
            if resource == "*":
                assert statement["Sid"] in UNSCOPED, statement["Sid"]
                assert statement["Condition"] == {
                    "StringEquals": {"aws:RequestedRegion": settings.aws_region}
                }
                continue
            assert f":{ACCOUNT}:" in resource or resource.startswith(NO_ACCOUNT), resource
            names = (settings.stack_name, f"{settings.name_prefix}/{settings.environment}/")
            assert any(name in resource for name in names + NOT_BY_NAME), resource
    assert "${" not in json.dumps(document)


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn")],
)
def test_every_arn_is_of_the_regions_partition(region: str, partition: str) -> None:
    """GovCloud and China accounts have ARNs of their own partition: a policy naming arn:aws:
    there grants nothing."""
    document = operator_policy.render(
        load_settings(environment="local", aws_region=region), ACCOUNT
    )
    arns = re.findall(r'"(arn:[^:"]*):', json.dumps(document))
    assert arns and set(arns) == {f"arn:{partition}"}


def test_the_command_prints_the_policy_and_refuses_a_bad_account(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["operator-policy", "local", "--account-id", ACCOUNT]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == operator_policy.render(load_settings(environment="local"), ACCOUNT)
    assert cli.main(["operator-policy", "local", "--account-id", "12"]) == 1
    assert "is not 12 digits" in capsys.readouterr().err


def test_the_command_prints_the_parts_iam_accepts_every_statement_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["operator-policy", "local", "--account-id", ACCOUNT, "--parts"]) == 0
    printed = json.loads(capsys.readouterr().out)
    whole = operator_policy.render(load_settings(environment="local"), ACCOUNT)
    assert len(printed) > 1 and {part["Version"] for part in printed} == {whole["Version"]}
    assert [each for part in printed for each in part["Statement"]] == whole["Statement"]
    assert max(len(json.dumps(part, separators=(",", ":"))) for part in printed) <= 6144


def test_the_split_is_read_from_the_module_or_refused(tmp_path: Path) -> None:
    main_tf = tmp_path / "main.tf"
    main_tf.write_text("locals {\n  statements_per_part = 3\n}\n")
    assert operator_policy.statements_per_part(main_tf) == 3
    main_tf.write_text("locals {}\n")
    with pytest.raises(operator_policy.OperatorPolicyError, match="statements_per_part"):
        operator_policy.statements_per_part(main_tf)


def test_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "policy.json.tftpl"
    template.write_text('{"Resource": "${nope}"}')
    with pytest.raises(operator_policy.OperatorPolicyError, match="unknown placeholders"):
        operator_policy.render_text({"stack": "x"}, template)


def test_the_operator_may_look_up_and_create_only_the_service_linked_roles_the_stacks_need() -> (
    None
):
    """Every role bootstrap may create (safety/service_linked_roles.py), by its AWS service name
    only: the condition IAM checks on CreateServiceLinkedRole is iam:AWSServiceName."""
    document = operator_policy.render(load_settings(environment="local"), ACCOUNT)
    for role in service_linked_roles.ALL:
        arn = role.arn(ACCOUNT)
        assert decide([document], Request("iam:GetRole", arn))
        named = {"iam:AWSServiceName": role.service}
        assert decide([document], Request("iam:CreateServiceLinkedRole", arn, named))
        assert not decide([document], Request("iam:CreateServiceLinkedRole", arn))
    other = {"iam:AWSServiceName": "elasticmapreduce.amazonaws.com"}
    emr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticmapreduce.amazonaws.com/*"
    assert not decide([document], Request("iam:CreateServiceLinkedRole", emr, other))
    assert not decide(
        [document],
        Request("iam:CreateServiceLinkedRole", service_linked_roles.ECS.arn(ACCOUNT), other),
    )


def _evaluated_in_the_module(tmp_path: Path, inputs: dict[str, str], expression: str) -> Any:
    """`expression`'s value inside the operator module given `inputs`, as Terraform evaluates
    it: a copy of the module, initialised with the machine's provider mirror (the console loads
    the module's provider), asked by `terraform console` with the inputs as a var file."""
    module = tmp_path / "operator"
    shutil.copytree(operator_policy.MODULE, module, ignore=shutil.ignore_patterns(".terraform*"))
    (module / "inputs.tfvars.json").write_text(json.dumps(inputs))
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}
    given = os.environ.get(provider_mirror.VARIABLE)
    mirror = Path(given) if given else provider_mirror.find()
    plugins = [f"-plugin-dir={mirror}"] if mirror else []
    init = ["terraform", "init", "-backend=false", "-input=false", *plugins]
    subprocess.run(init, cwd=module, env=env, check=True, capture_output=True)
    return hcl.console(expression, module, "-var-file=inputs.tfvars.json")


# An init and a console that loads the module's provider: 5-10 s, by the machine's load.
@pytest.mark.slow
def test_each_managed_policy_part_is_under_iams_limit_for_the_longest_names(
    tmp_path: Path,
) -> None:
    """IAM holds at most 6,144 characters (whitespace not counted) in a managed policy; the
    module creates the statements in parts, as it splits them for its longest inputs."""
    prefix, environment = "p" * PREFIX_MAX, "e" * ENVIRONMENT_MAX
    inputs = {
        "name_prefix": prefix,
        "environment": environment,
        "account_id": ACCOUNT,
        "region": "ap-southeast-4",  # among the longest region names
        "partition": "aws-us-gov",  # the longest partition
        "state_bucket": "b" * 63,  # S3's longest bucket name
    }
    text = operator_policy.render_text(inputs | {"stack": f"{prefix}-{environment}"})
    whole, parts = _evaluated_in_the_module(
        tmp_path, inputs, "[local.policy_json, local.parts_json]"
    )
    assert json.loads(whole) == json.loads(text)  # the product's rendering is the module's
    sizes = [len(re.sub(r"\s", "", part)) for part in parts]
    assert len(parts) == 4 and max(sizes) <= 6144, sizes
    statements = [each for part in parts for each in json.loads(part)["Statement"]]
    assert statements == json.loads(text)["Statement"]
    # `bootstrap-flows operator-policy --parts` prints exactly the module's parts.
    split = operator_policy.parts(json.loads(text), operator_policy.statements_per_part())
    assert split == [json.loads(part) for part in parts]
    assert len(re.sub(r"\s", "", text)) > 6144  # why there are parts at all
