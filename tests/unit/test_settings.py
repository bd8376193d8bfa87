"""Each bad setting gets one readable message naming it; good settings derive the right values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bootstrap_flows.config.settings import BootstrapSettings, SettingsError, load_settings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_local.settings import LocalSettings

pytestmark = pytest.mark.usefixtures("clean_env")


REMOTE = {"prefect_api_url": "https://api.prefect.cloud/api/accounts/a/workspaces/w"}


# Each refused value, with its message, is a row of the README's "Refused inputs" table and a
# case of tests/unit/test_refused_inputs.py; here: what settings accept, and how they say no.


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
    from bootstrap_flows.config.settings import BootstrapSettings

    monkeypatch.setenv("BOOTSTRAP_NAT_MODE", "per_az")
    settings = BootstrapSettings(_env_file=env_file, worker_count=5)  # type: ignore[call-arg]
    assert settings.az_count == 2  # env file
    assert settings.nat_mode == "per_az"  # environment beats env file
    assert settings.worker_count == 5  # parameters beat both


def test_local_defaults_derive_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator target's endpoints come from the embedded default's own settings.
    monkeypatch.setenv("BOOTSTRAP_LOCAL_MOTO_PORT", "5999")
    monkeypatch.setenv("BOOTSTRAP_LOCAL_PREFECT_PORT", "5998")
    settings = load_settings()
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
    from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings

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


@pytest.mark.parametrize(
    "values",
    [
        {"aws_region": "us-gov-west-1"},
        {"aws_region": "cn-north-1"},
        {"aws_region": "ap-southeast-7"},
        {"drift_schedule": "0 3 * * 1-5"},
        {"drift_schedule": "@hourly"},
        {"prefect_api_auth_string": "admin:pa:ss"},  # the password may hold a colon
        {"prefect_api_key": "pnu_abc123"},
        {"worker_base_image": "127.0.0.1:5000/team/prefect-worker:3.8.8"},
        {"worker_base_image": "localhost/worker@sha256:" + "a" * 64},
        {"worker_base_image": "public.ecr.aws/prefecthq/prefect:3-latest"},
        {"registry_host_override": "123456789012.dkr.ecr.eu-west-1.amazonaws.com"},
        {"registry_host_override": "127.0.0.1:5000"},
        {"server_domain_name": "prefect.internal.example.com"},
        {"server_route53_zone_id": "Z0123456789ABC"},
        {"server_certificate_arn": "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/x"},
        {"prefect_api_url": "https://api.prefect.cloud/api/accounts/a/workspaces/w?x=1"},
    ],
)
def test_good_values_are_accepted(values: dict[str, str]) -> None:
    load_settings(**values)


def test_a_pem_bundle_is_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert load_settings(extra_ca_bundle=bundle).extra_ca_bundle == bundle


def test_the_server_stack_fits_names_up_to_the_limit() -> None:
    settings = load_settings(
        environment="staging",
        name_prefix="acme-prefect",  # acme-prefect-staging-server: 27 characters
        prefect_server="aws",
        server_certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x",
        az_count=2,
    )
    assert len(f"{settings.stack_name}-server") <= 28


def test_the_defaults_pass_every_check() -> None:
    """Defaults skip the delegated checks while loading (cost), so prove them here once."""
    from bootstrap_flows.config.groups import DELEGATED

    assert len(DELEGATED) == 18
    for name, check in DELEGATED.items():
        default = BootstrapSettings.model_fields[name].get_default(call_default_factory=True)
        assert check(default) == default, name


def test_the_embedded_defaults_settings_share_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BOOTSTRAP_LOCAL_MOTO_PORT=4567\nBOOTSTRAP_AZ_COUNT=2\n")
    monkeypatch.delenv("BOOTSTRAP_LOCAL_MOTO_PORT", raising=False)
    assert BootstrapSettings(_env_file=env_file).az_count == 2  # type: ignore[call-arg]
    assert LocalSettings(_env_file=env_file).moto_port == 4567  # type: ignore[call-arg]
    env_file.write_text("BOOTSTRAP_LOCL_MOTO_PORT=4567\n")  # a misspelt name is still refused
    with pytest.raises(ValidationError, match="bootstrap_locl_moto_port"):
        BootstrapSettings(_env_file=env_file)  # type: ignore[call-arg]


def test_a_run_moves_the_workers_prefect_only_to_values_that_pass_the_checks() -> None:
    settings = load_settings(
        prefect_server="aws",
        server_certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x",
        az_count=2,
    )
    aimed = settings.aimed_at(
        api_url="https://prefect.example.com/api/", auth_string=SecretStr("prefect:pw")
    )
    assert aimed.prefect_api_url == "https://prefect.example.com/api"
    assert aimed.prefect_api_auth_string == SecretStr("prefect:pw")
    assert settings.prefect_api_url is None  # a copy: the run's first settings stay as given
    with pytest.raises(SettingsError, match=r"prefect_api_url \(set by this run\)"):
        settings.aimed_at(api_url="prefect.example.com")
    with pytest.raises(SettingsError, match="no colon") as caught:
        settings.aimed_at(auth_string=SecretStr("no-colon-secret"))
    assert "no-colon-secret" not in str(caught.value)


def test_a_staged_pipelines_ci_role_reaches_the_platform_stack() -> None:
    """Production's role of examples/github-actions/release.yml, as settings shape it."""
    from bootstrap_flows.terraform.platform_stack import platform_variables

    staging = "arn:aws:ecr:us-east-1:123456789012:repository/acme-staging-worker"
    settings = load_settings(
        ci_github_repository="acme/flows",
        ci_github_environment="production",
        ci_promote_from_repository_arn=staging,
    )
    variables = platform_variables(settings)
    assert (variables["ci_github_environment"], variables["ci_promote_from_repository_arn"]) == (
        "production",
        staging,
    )
