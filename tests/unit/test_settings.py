"""Each bad setting gets one readable message naming it; good settings derive the right values."""

from __future__ import annotations

import pytest

from bootstrap_flows.settings import SettingsError, load_settings
from bootstrap_flows.target import resolve, worker_api_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BOOTSTRAP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BOOTSTRAP_ENV_FILE", "/nonexistent")


REMOTE = {"prefect_api_url": "https://api.prefect.cloud/api/accounts/a/workspaces/w"}


@pytest.mark.parametrize(
    ("overrides", "names", "says"),
    [
        ({"vpc_cidr": "10.0.0.0/33"}, "vpc_cidr", "not a valid IPv4 CIDR"),
        ({"vpc_cidr": "10.0.0.1/16"}, "vpc_cidr", "not a valid IPv4 CIDR"),
        ({"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr", "between /16 and /24"),
        ({"vpc_cidr": "banana"}, "vpc_cidr", "not a valid IPv4 CIDR"),
        ({"aws_region": "mars-1"}, "aws_region", "not an AWS region name"),
        ({"name_prefix": "Prefect_Prod"}, "name_prefix", "lowercase letters"),
        ({"name_prefix": "a" * 21}, "name_prefix", "longer than 20"),
        ({"environment": "-dev"}, "environment", "lowercase letters"),
        ({"az_count": 0}, "az_count", "greater than or equal to 1"),
        ({"az_count": "three"}, "az_count", "valid integer"),
        ({"nat_mode": "two"}, "nat_mode", "'single', 'per_az' or 'none'"),
        ({"worker_cpu": 300}, "worker_cpu", "not a Fargate CPU size"),
        ({"worker_cpu": 256, "worker_memory": 4096}, "worker_memory", "not valid with worker_cpu"),
        ({"log_retention_days": 10}, "log_retention_days", "not a CloudWatch retention"),
        ({"state_bucket": "Bad_Bucket"}, "state_bucket", "not a valid S3 bucket name"),
        ({"prefect_api_url": "ftp://x"}, "prefect_api_url", "not an http(s) URL"),
        ({"no_such_setting": 1}, "no_such_setting", "unknown setting"),
        (
            {"environment": "dev", **REMOTE},
            "prefect_api_key or prefect_api_auth_string",
            "needs one",
        ),
        ({"environment": "dev"}, "prefect_api_url", "required for environment 'dev'"),
        (
            {
                "environment": "dev",
                "aws_endpoint_url": "http://127.0.0.1:1",
                **REMOTE,
                "prefect_api_key": "k",
            },
            "aws_endpoint_url",
            "needs an emulator target",
        ),
        ({"environment": "dev", "prefect_server": "aws"}, "server_certificate_arn", "BOOTSTRAP_"),
        (
            {"environment": "dev", "prefect_server": "aws", "server_domain_name": "p.example"},
            "server_certificate_arn",
            "BOOTSTRAP_SERVER_ROUTE53_ZONE_ID",
        ),
        (
            {"prefect_server": "aws", "server_certificate_arn": "arn:c", **REMOTE},
            "prefect_api_url",
            "BOOTSTRAP_PREFECT_SERVER=external",
        ),
        (
            {"prefect_server": "aws", "server_certificate_arn": "arn:c", "prefect_api_key": "k"},
            "prefect_api_key",
            "whose URL and auth string bootstrap makes",
        ),
        ({"prefect_server": "cloud"}, "prefect_server", "'external' or 'aws'"),
        ({"server_allowed_cidrs": ["10.0.0.0/33"]}, "server_allowed_cidrs", "not a valid IPv4"),
        ({"server_start_timeout": 5}, "server_start_timeout", "greater than or equal to 30"),
    ],
)
def test_bad_value_names_the_setting(overrides: dict[str, object], names: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert message.startswith("Invalid settings; nothing was changed:")
    assert names in message
    assert says in message


def test_env_var_named_in_message() -> None:
    with pytest.raises(SettingsError, match=r"az_count \[BOOTSTRAP_AZ_COUNT\]"):
        load_settings(az_count=9)


def test_secret_value_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            prefect_api_key="sekrit-123",
            prefect_api_auth_string="u:sekrit-456",
            environment="dev",
            **REMOTE,
        )
    assert "sekrit" not in str(caught.value)


def test_sources_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / "bootstrap.env"
    env_file.write_text("BOOTSTRAP_AZ_COUNT=2\nBOOTSTRAP_NAT_MODE=none\nBOOTSTRAP_WORKER_COUNT=3\n")
    from bootstrap_flows.settings import BootstrapSettings

    monkeypatch.setenv("BOOTSTRAP_NAT_MODE", "per_az")
    settings = BootstrapSettings(_env_file=env_file, worker_count=5)  # type: ignore[call-arg]
    assert settings.az_count == 2  # env file
    assert settings.nat_mode == "per_az"  # environment beats env file
    assert settings.worker_count == 5  # parameters beat both


def test_local_defaults_derive_endpoints() -> None:
    settings = load_settings(local_moto_port=5999, local_prefect_port=5998)
    target = resolve(settings)
    assert (settings.target, target.name) == ("emulator", "emulator")
    assert target.endpoint_url == "http://127.0.0.1:5999"
    assert worker_api_url(target) == "http://127.0.0.1:5998/api"
    assert settings.state_bucket_name("123456789012") == "prefect-local-tfstate-123456789012"


def test_remote_environment_has_no_endpoint() -> None:
    settings = load_settings(environment="prod", prefect_api_key="k", **REMOTE)
    target = resolve(settings)
    assert (settings.target, target.endpoint_url, target.aws_env) == ("aws", None, {})
    assert worker_api_url(target) == REMOTE["prefect_api_url"]
    assert target.prefect_credential_variable == "PREFECT_API_KEY"
    assert (target.autoscaling, target.health_checks, target.disposable) == (True, True, False)


def test_readme_documents_every_setting() -> None:
    from bootstrap_flows.settings import PROJECT_ROOT, BootstrapSettings

    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [
        name
        for name in BootstrapSettings.model_fields
        if f"| `{name}` | `BOOTSTRAP_{name.upper()}` |" not in readme
    ]
    assert missing == []


def test_server_stack_needs_no_prefect_url_or_credential_of_its_own() -> None:
    settings = load_settings(
        environment="dev",
        prefect_server="aws",
        server_domain_name="prefect.example.com",
        server_route53_zone_id="Z123",
    )
    assert settings.target == "aws"
    assert settings.prefect_api_url is None
