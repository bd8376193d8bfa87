"""Where AWS is: the target a setting names, and what the stacks get from it."""

from __future__ import annotations

import pytest

from bootstrap_flows.config.settings import SettingsError, load_settings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.terraform.platform_stack import platform_variables
from bootstrap_flows.terraform.worker_stack import worker_variables
from tests.support.samples import IMAGE, OUTPUTS

REMOTE = {
    "environment": "prod",
    "prefect_api_url": "https://api.prefect.cloud/api/accounts/a/workspaces/w",
    "prefect_api_auth_string": None,
    "prefect_api_key": "pnu_secret",
}


def test_local_is_the_emulator_with_what_moto_lacks_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOOTSTRAP_LOCAL_MOTO_PORT", "5999")
    monkeypatch.setenv("BOOTSTRAP_LOCAL_REGISTRY_PORT", "5997")
    settings = load_settings()
    target = resolve(settings)
    assert target.name == "emulator"
    assert target.endpoint_url == "http://127.0.0.1:5999"
    assert target.registry_host == "127.0.0.1:5997"
    assert target.aws_env["AWS_ACCESS_KEY_ID"]
    assert (target.autoscaling, target.health_checks, target.disposable) == (False, False, True)
    assert target.push_recorder is not None and target.worker_on_this_machine
    # The emulator's own advice travels with its target, not in the product's messages.
    assert "bootstrap-flows local" in target.start_hint + target.registry_hint


def test_real_aws_uses_the_default_credential_chain_and_everything_it_offers() -> None:
    target = resolve(load_settings(**REMOTE))
    assert (target.name, target.endpoint_url, target.aws_env) == ("aws", None, {})
    assert (target.autoscaling, target.health_checks, target.disposable) == (True, True, False)
    assert target.registry_host is None and target.push_recorder is None
    assert worker_api_url(target) == REMOTE["prefect_api_url"]
    assert target.prefect_credential_variable == "PREFECT_API_KEY"


def test_target_never_shows_the_credential() -> None:
    target = resolve(load_settings(**REMOTE))
    assert "pnu_secret" not in repr(target) and "pnu_secret" not in target.model_dump_json()


def test_unknown_target_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="target 'nowhere' is not installed; use one of"):
        resolve(load_settings(target="nowhere"))


def test_stack_variables_follow_the_target() -> None:
    local = load_settings()
    variables = platform_variables(local)
    # Disposable is policy only: the emulator keeps AWS's recovery window and ECR's refusal.
    assert (variables["ecr_force_delete"], variables["secret_recovery_window_days"]) == (False, 7)
    worker = worker_variables(local, OUTPUTS, IMAGE)
    assert (worker["enable_autoscaling"], worker["enable_health_check"]) == (False, False)
    assert worker["api_secret_env_name"] == "PREFECT_API_AUTH_STRING"

    remote = load_settings(**REMOTE)
    variables = platform_variables(remote)
    assert (variables["ecr_force_delete"], variables["secret_recovery_window_days"]) == (False, 7)
    worker = worker_variables(remote, OUTPUTS, IMAGE)
    assert (worker["enable_autoscaling"], worker["enable_health_check"]) == (True, True)
    assert worker["api_secret_env_name"] == "PREFECT_API_KEY"
    assert worker["prefect_api_url"] == REMOTE["prefect_api_url"]
    assert "pnu_secret" not in str(worker) + str(variables)


def test_the_target_is_resolved_once_per_settings_and_afresh_for_a_copy() -> None:
    settings = load_settings(**REMOTE)
    target = resolve(settings)
    assert resolve(settings) is target  # every AWS client of a run asks; one resolution
    moved = settings.model_copy(update={"prefect_api_url": "https://other.example/api"})
    assert resolve(moved).prefect_api_url == "https://other.example/api"
    assert resolve(settings) is target
