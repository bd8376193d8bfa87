"""The worker security group opens its Prefect API's port (issue 24 item 10).

The network module allows the worker HTTPS, HTTP and DNS only; a worker whose Prefect answers
elsewhere (a self-hosted server on 4200) passed preflight and then never connected on Fargate.
The platform stack's variables now carry an egress rule for that port. That the rule reaches
the security group Terraform plans: tests/integration/test_worker_egress_plan.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap_flows.config.settings import SettingsError, load_settings
from bootstrap_flows.terraform.platform_stack import (
    api_port,
    platform_variables,
    worker_egress_rules,
)

pytestmark = pytest.mark.usefixtures("clean_env")

CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/example"


def _external(url: str) -> dict[str, Any]:
    return {"environment": "prod", "prefect_api_url": url, "prefect_api_auth_string": "u:p"}


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("https://api.prefect.cloud/api/accounts/a/workspaces/w", 443),
        ("http://prefect.internal/api", 80),
        ("https://prefect.example.com:8443/api", 8443),
        ("http://10.0.12.7:4200/api", 4200),
        ("http://[fd00::7]:4200/api", 4200),
        ("HTTPS://Prefect.Example.com/api", 443),
        ("http://prefect.internal:443/api", 443),
    ],
)
def test_the_port_is_the_urls_own_else_its_schemes(url: str, port: int) -> None:
    assert api_port(url) == port


@pytest.mark.parametrize("url", ["ftp://prefect.internal/api", "http://h:0/api", "http://h:x/"])
def test_a_url_without_an_http_port_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="Prefect API URL"):
        api_port(url)


@pytest.mark.parametrize("url", ["https://prefect.example.com/api", "http://prefect.internal/api"])
def test_no_rule_when_the_standing_rules_allow_the_port(url: str) -> None:
    assert worker_egress_rules(load_settings(**_external(url))) == []


def test_a_self_hosted_server_on_4200_gets_its_port_opened() -> None:
    settings = load_settings(**_external("http://prefect.internal:4200/api"))
    rule = {
        "description": "Prefect API of the worker and its flow runs (TCP 4200)",
        "port": 4200,
        "cidr_blocks": ["0.0.0.0/0"],
    }
    assert worker_egress_rules(settings) == [rule]
    assert platform_variables(settings)["worker_extra_egress_rules"] == [rule]


def test_the_embedded_default_opens_its_local_prefect_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOOTSTRAP_LOCAL_PREFECT_PORT", "4255")
    (rule,) = worker_egress_rules(load_settings())
    assert rule["port"] == 4255


def test_the_server_stack_load_balancer_is_on_443_and_needs_no_rule() -> None:
    # On AWS the worker calls the stack's `api_url`: https://<ALB or domain>/api, port 443.
    settings = load_settings(
        environment="prod", prefect_server="aws", server_certificate_arn=CERTIFICATE_ARN
    )
    assert worker_egress_rules(settings) == []


def test_the_emulators_server_stack_task_port_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator has no load balancer: the worker calls the server task on this machine.
    monkeypatch.setenv("BOOTSTRAP_LOCAL_SERVER_PORT", "4301")
    settings = load_settings(prefect_server="aws", server_certificate_arn=CERTIFICATE_ARN)
    assert [rule["port"] for rule in worker_egress_rules(settings)] == [4301]


@pytest.mark.parametrize("url", ["http://prefect.internal:99999/api", "http://prefect:0/api"])
def test_settings_refuse_a_url_whose_port_is_not_one(url: str) -> None:
    with pytest.raises(SettingsError, match="prefect_api_url"):
        load_settings(**_external(url))
