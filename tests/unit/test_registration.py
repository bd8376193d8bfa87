"""Which deployments `bootstrap-flows deploy` registers: prefect.yaml's `local` three, copied for
each configured environment. Registering them on a Prefect server is
tests/integration/test_environments.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_flows.prefect_side import registration

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def folder(environments_folder: Path) -> Path:
    # An example: no account, so not configured.
    (environments_folder / "prod.env").write_text("BOOTSTRAP_AWS_REGION=eu-west-1\n")
    return environments_folder


def by_flow(project: dict[str, object]) -> dict[str, dict[str, object]]:
    deployments = project["deployments"]
    assert isinstance(deployments, list)
    return {f"{d['entrypoint'].rsplit(':', 1)[1]}/{d['name']}": d for d in deployments}


def test_copies_for_each_configured_environment(folder: Path) -> None:
    configured = registration.configured_settings()
    assert list(configured) == ["dev", "local"]
    found = by_flow(registration.prefect_file(configured))
    assert sorted(found) == [
        "bootstrap/dev",
        "bootstrap/local",
        "drift_check/dev",
        "drift_check/local",
        "teardown/dev",
        "teardown/local",
    ]
    assert found["bootstrap/dev"]["parameters"] == {"environment": "dev"}
    assert found["bootstrap/dev"]["tags"] == ["bootstrap", "dev"]
    assert found["drift_check/dev"]["schedules"] == [{"cron": "0 3 * * *", "active": True}]
    assert found["drift_check/local"]["schedules"] == [{"cron": "*/30 * * * *", "active": True}]
    # One check of an environment at a time; one due while another runs is skipped.
    skipped = {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert found["drift_check/dev"]["concurrency_limit"] == skipped
    assert "concurrency_limit" not in found["bootstrap/dev"]  # the environment lock queues those
    # Only the emulator's disposable environment is torn down without approval.
    assert found["teardown/local"]["parameters"] == {"environment": "local", "confirm": "local"}
    assert found["teardown/dev"]["parameters"] == {"environment": "dev"}
    assert found["bootstrap/dev"]["work_pool"] == {
        "name": "bootstrap",
        "work_queue_name": "default",
    }


def test_pull_step_names_the_checkout(folder: Path) -> None:
    project = registration.prefect_file(registration.configured_settings())
    step = project["pull"][0]["prefect.deployments.steps.set_working_directory"]
    assert Path(step["directory"]) == PROJECT_ROOT


def test_configured_environment_that_does_not_load_is_refused(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOOTSTRAP_PREFECT_API_KEY")
    with pytest.raises(registration.RegistrationError) as caught:
        registration.configured_settings()
    message = str(caught.value)
    assert "environment 'dev' is configured" in message
    assert "prefect_api_key or prefect_api_auth_string" in message


def test_two_environments_on_one_pool_are_refused(folder: Path) -> None:
    (folder / "qa.env").write_text(
        "BOOTSTRAP_AWS_ACCOUNT_ID=222222222222\n"
        "BOOTSTRAP_PREFECT_API_URL=https://prefect.example.com/api\n"
        "BOOTSTRAP_WORK_POOL_NAME=dev-pool\n"
    )
    with pytest.raises(registration.RegistrationError, match="'dev' and 'qa' both use work pool"):
        registration.configured_settings()


def test_two_environments_of_one_account_that_derive_one_name_are_refused(folder: Path) -> None:
    # `qa` with prefix `prefect-dev` and `dev-qa` with the default `prefect`: every name is
    # `prefect-dev-qa-…` in both.
    for name, prefix in (("dev-qa", ""), ("qa", "BOOTSTRAP_NAME_PREFIX=prefect-dev\n")):
        (folder / f"{name}.env").write_text(
            "BOOTSTRAP_AWS_ACCOUNT_ID=111111111111\n"
            "BOOTSTRAP_PREFECT_API_URL=https://prefect.example.com/api\n"
            f"BOOTSTRAP_WORK_POOL_NAME={name}-pool\n{prefix}"
        )
    with pytest.raises(registration.RegistrationError, match="would both make the") as refused:
        registration.configured_settings()
    assert "'prefect-dev-qa-" in str(refused.value) and "qa.env" in str(refused.value)
    # In another account they are names of two accounts: both register.
    (folder / "qa.env").write_text(
        (folder / "qa.env").read_text().replace("111111111111", "222222222222")
    )
    assert {"dev-qa", "qa"} <= set(registration.configured_settings())
