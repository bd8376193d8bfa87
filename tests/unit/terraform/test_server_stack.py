"""The server stack's inputs, what teardown keeps, and how settings are aimed at the server."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.terraform import server_stack, stacks
from tests.support.samples import OUTPUTS

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/r@sha256:" + "a" * 64
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/example"


pytestmark = pytest.mark.usefixtures("clean_env")


def aws_settings(**overrides: object):  # type: ignore[no-untyped-def]
    return load_settings(
        environment="prod",
        prefect_server="aws",
        server_certificate_arn=CERTIFICATE_ARN,
        **overrides,
    )


def test_variables_come_from_platform_outputs_and_settings() -> None:
    variables = server_stack.server_variables(
        aws_settings(server_internal=False, server_allowed_cidrs=["203.0.113.0/24"]),
        OUTPUTS,
        IMAGE_URI,
    )
    assert variables["auth_secret_arn"] == OUTPUTS.prefect_api_secret_arn
    assert variables["private_subnet_ids"] == OUTPUTS.private_subnet_ids
    assert variables["internal"] is False
    assert variables["allowed_cidrs"] == ["203.0.113.0/24"]
    # Real AWS: the stock ports, the database protected, every attribute set.
    assert (variables["port"], variables["db_port"]) == (4200, 5432)
    assert variables["db_deletion_protection"] is True
    assert variables["db_performance_insights"] is variables["group_rule_descriptions"] is True
    assert "auth" not in str({k: v for k, v in variables.items() if k != "auth_secret_arn"})


def test_the_emulator_moves_ports_and_leaves_out_what_moto_forgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOOTSTRAP_LOCAL_SERVER_PORT", "4311")
    monkeypatch.setenv("BOOTSTRAP_LOCAL_POSTGRES_PORT", "25433")
    settings = load_settings(prefect_server="aws", server_certificate_arn=CERTIFICATE_ARN)
    variables = server_stack.server_variables(settings, OUTPUTS, IMAGE_URI)
    assert variables["port"] == 4311
    assert variables["db_port"] == 25433
    assert variables["db_deletion_protection"] is True  # as on AWS: teardown unprotects it
    assert variables["group_rule_descriptions"] is False


def test_targeting_aims_the_worker_at_the_server() -> None:
    settings = aws_settings(prefect_api_auth_string="prefect:pw")
    aimed = server_stack.targeting(settings, "https://prefect.example.com/api")
    target = resolve(aimed)
    assert worker_api_url(target) == "https://prefect.example.com/api"
    assert target.prefect_credential_variable == "PREFECT_API_AUTH_STRING"
    assert target.prefect_credential == SecretStr("prefect:pw")


def test_the_emulator_reaches_the_server_where_its_task_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOOTSTRAP_LOCAL_SERVER_PORT", "4312")
    settings = load_settings(prefect_server="aws", server_certificate_arn=CERTIFICATE_ARN)
    aimed = server_stack.targeting(settings, "https://internal-x.elb.amazonaws.com/api")
    assert aimed.prefect_api_url == "http://127.0.0.1:4312/api"


STATE = {
    "resources": [
        {"module": "module.server", "mode": "data", "type": "aws_region", "name": "current"},
        {"module": "module.server", "mode": "managed", "type": "aws_lb", "name": "this"},
        {"module": "module.server", "mode": "managed", "type": "aws_db_instance", "name": "this"},
        {"module": "module.server", "mode": "managed", "type": "aws_security_group", "name": "db"},
        {"module": "module.server", "mode": "managed", "type": "aws_security_group", "name": "alb"},
        {
            "module": "module.server",
            "mode": "managed",
            "type": "aws_db_subnet_group",
            "name": "this",
        },
    ]
}


def test_teardown_keeps_the_database_and_what_it_stands_on() -> None:
    assert stacks.managed_addresses(STATE)[0] == "module.server.aws_lb.this"
    assert server_stack.holds_database(STATE)
    assert server_stack.addresses_besides_database(STATE) == [
        "module.server.aws_lb.this",
        "module.server.aws_security_group.alb",
    ]
    assert not server_stack.holds_database({"resources": STATE["resources"][:2]})


def test_teardown_keeps_the_final_snapshots_name_with_the_database() -> None:
    suffix = {
        "module": "module.server",
        "mode": "managed",
        "type": "terraform_data",
        "name": "final_snapshot_suffix",
    }
    state = {"resources": [*STATE["resources"], suffix]}
    assert "module.server.terraform_data.final_snapshot_suffix" not in (
        server_stack.addresses_besides_database(state)
    )


def _database(**attributes: object) -> dict[str, object]:
    instance = {"attributes": {"identifier": "p-dev-server", **attributes}}
    return {"resources": [{**STATE["resources"][2], "instances": [instance]}]}


def test_the_final_snapshots_name_is_the_one_the_state_records() -> None:
    name = "p-dev-server-final-20261206161014"
    recorded = _database(final_snapshot_identifier=name, skip_final_snapshot=False)
    assert server_stack.final_snapshot_identifier(recorded) == name
    skipped = _database(final_snapshot_identifier=None, skip_final_snapshot=True)
    assert server_stack.final_snapshot_identifier(skipped) is None
    assert server_stack.final_snapshot_identifier({"resources": STATE["resources"][:2]}) is None
