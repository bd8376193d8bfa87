"""The ECS work pool stage on a real Prefect server: owned defaults, user edits, no rewrites."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound
from prefect_aws.workers.ecs_worker import ECSWorker

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.prefect_side.work_pool import (
    WorkPoolError,
    check_owner,
    ensure_work_pool,
    owner,
)
from tests.support.samples import IMAGE, OUTPUTS

pytestmark = pytest.mark.slow
ACCOUNT = OUTPUTS.cluster_arn.split(":")[4]


def defaults(pool_name: str) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        template = client.read_work_pool(pool_name).base_job_template
    return {k: v.get("default") for k, v in template["variables"]["properties"].items()}


@pytest.fixture()
def settings(local_stack: BootstrapSettings, request: pytest.FixtureRequest) -> BootstrapSettings:
    name = request.node.name[5:30].replace("_", "-").strip("-")
    return load_settings(work_pool_name=f"pool-{name}")


def test_pool_defaults_come_from_outputs(settings: BootstrapSettings) -> None:
    change, _ = ensure_work_pool(settings, OUTPUTS, IMAGE)
    assert change == "created"
    got = defaults(settings.work_pool_name)
    assert got["cluster"] == OUTPUTS.cluster_arn
    assert got["vpc_id"] == "vpc-1"
    assert got["network_configuration"] == {
        "subnets": ["subnet-priv1", "subnet-priv2"],
        "securityGroups": ["sg-worker"],
        "assignPublicIp": "DISABLED",
    }
    assert got["execution_role_arn"] == OUTPUTS.execution_role_arn
    assert got["task_role_arn"] == OUTPUTS.flow_run_task_role_arn
    assert got["image"] == IMAGE
    assert (got["cpu"], got["memory"]) == (settings.flow_run_cpu, settings.flow_run_memory)
    assert got["configure_cloudwatch_logs"] is True
    assert got["cloudwatch_logs_options"]["awslogs-group"] == "/ecs/p"
    assert got["prefect_api_auth_string_secret_arn"] == OUTPUTS.prefect_api_secret_arn
    assert got["prefect_api_key_secret_arn"] is None
    assert got["observer_queue_name"] == "q"


def test_unchanged_pool_is_not_rewritten(settings: BootstrapSettings) -> None:
    ensure_work_pool(settings, OUTPUTS, IMAGE)
    with get_client(sync_client=True) as client:
        before = client.read_work_pool(settings.work_pool_name)
    assert ensure_work_pool(settings, OUTPUTS, IMAGE)[0] == "unchanged"
    with get_client(sync_client=True) as client:
        after = client.read_work_pool(settings.work_pool_name)
    assert after.updated == before.updated


def test_user_edits_of_other_fields_survive(settings: BootstrapSettings) -> None:
    ensure_work_pool(settings, OUTPUTS, IMAGE)
    with get_client(sync_client=True) as client:
        template = client.read_work_pool(settings.work_pool_name).base_job_template
        template["variables"]["properties"]["auto_deregister_task_definition"]["default"] = True
        template["variables"]["properties"]["env"]["default"] = {"TEAM": "data"}
        template["job_configuration"]["task_start_timeout_seconds"] = 900
        client.update_work_pool(settings.work_pool_name, WorkPoolUpdate(base_job_template=template))
    new_image = IMAGE.replace("a" * 64, "b" * 64)
    assert ensure_work_pool(settings, OUTPUTS, new_image)[0] == "updated"
    got = defaults(settings.work_pool_name)
    assert got["image"] == new_image
    assert got["auto_deregister_task_definition"] is True
    assert got["env"] == {"TEAM": "data"}
    with get_client(sync_client=True) as client:
        template = client.read_work_pool(settings.work_pool_name).base_job_template
    assert template["job_configuration"]["task_start_timeout_seconds"] == 900


def test_pool_of_another_type_is_refused_untouched(settings: BootstrapSettings) -> None:
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=settings.work_pool_name, type="process"))
        before = client.read_work_pool(settings.work_pool_name)
    for check in (
        lambda: ensure_work_pool(settings, OUTPUTS, IMAGE),
        lambda: check_owner(settings, ACCOUNT),  # preflight's, before anything changes
    ):
        with pytest.raises(
            WorkPoolError, match="exists on the worker's Prefect with type 'process'"
        ):
            check()
    with get_client(sync_client=True) as client:
        assert client.read_work_pool(settings.work_pool_name).updated == before.updated


def test_the_pool_records_its_environment_and_another_is_refused_untouched(
    settings: BootstrapSettings,
) -> None:
    check_owner(settings, ACCOUNT)  # no pool yet
    ensure_work_pool(settings, OUTPUTS, IMAGE)
    assert defaults(settings.work_pool_name)["bootstrap_owner"] == owner(settings, ACCOUNT)
    check_owner(settings, ACCOUNT)  # its own
    with get_client(sync_client=True) as client:
        before = client.read_work_pool(settings.work_pool_name)
    other = settings.model_copy(update={"environment": "staging"})
    with pytest.raises(WorkPoolError) as refused:
        check_owner(other, ACCOUNT)
    assert str(refused.value) == (
        f"work pool {settings.work_pool_name!r} on the worker's Prefect belongs to environment "
        f"'local' (account {ACCOUNT}, us-east-1, state bucket prefect-local-tfstate-{ACCOUNT}), "
        f"not to environment 'staging' (account {ACCOUNT}, us-east-1, state bucket "
        f"prefect-staging-tfstate-{ACCOUNT}): two environments cannot share a pool; give "
        "'staging' another BOOTSTRAP_WORK_POOL_NAME (nothing was changed)"
    )
    with pytest.raises(WorkPoolError, match="belongs to environment 'local'"):
        check_owner(settings, "999999999999")  # the same name in another account
    with get_client(sync_client=True) as client:
        assert client.read_work_pool(settings.work_pool_name).updated == before.updated


def test_a_pool_from_before_owners_belongs_to_the_environment_of_its_cluster(
    settings: BootstrapSettings,
) -> None:
    ensure_work_pool(settings, OUTPUTS, IMAGE)
    with get_client(sync_client=True) as client:
        template = client.read_work_pool(settings.work_pool_name).base_job_template
        del template["variables"]["properties"]["bootstrap_owner"]
        client.update_work_pool(settings.work_pool_name, WorkPoolUpdate(base_job_template=template))
    # OUTPUTS' cluster `c` is not this environment's `prefect-local-cluster`.
    with pytest.raises(WorkPoolError, match=r"belongs to the environment of cluster arn:\S+/c,"):
        check_owner(settings, ACCOUNT)
    ours = OUTPUTS.model_copy(
        update={"cluster_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prefect-local-cluster"}
    )
    ensure_work_pool(settings, ours, IMAGE)  # what a re-run does: records the owner
    template["variables"]["properties"]["cluster"]["default"] = ours.cluster_arn
    with get_client(sync_client=True) as client:
        client.update_work_pool(settings.work_pool_name, WorkPoolUpdate(base_job_template=template))
    check_owner(settings, ACCOUNT)  # its own cluster, no record: it is this environment's


def test_a_pool_the_worker_registers_meanwhile_is_updated_not_a_failure(
    settings: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker service, started by the platform apply, registers its pool with Prefect's default
    # ECS template when it finds none. Here it does so between the stage's read and its create,
    # as it once did under load (the create then failed with 409).
    read = SyncPrefectClient.read_work_pool

    def read_then_worker_registers(self: SyncPrefectClient, name: str) -> Any:
        monkeypatch.setattr(SyncPrefectClient, "read_work_pool", read)
        pool = WorkPoolCreate(
            name=name, type="ecs", base_job_template=ECSWorker.get_default_base_job_template()
        )
        with get_client(sync_client=True) as other:
            other.create_work_pool(pool)
        raise ObjectNotFound(http_exc=Exception(f"{name} not found"))

    monkeypatch.setattr(SyncPrefectClient, "read_work_pool", read_then_worker_registers)
    change, _ = ensure_work_pool(settings, OUTPUTS, IMAGE)
    assert change == "updated"
    got = defaults(settings.work_pool_name)
    assert got["cluster"] == OUTPUTS.cluster_arn and got["image"] == IMAGE
    assert got["bootstrap_owner"] == owner(settings, ACCOUNT)
