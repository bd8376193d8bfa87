"""The bootstrap flow on the embedded default: real moto, real Prefect server, real Terraform.

The main path goes the way a user goes: `prefect deploy --all`, then `bootstrap/local` run by the
local process worker. Bad-input cases call the flow in-process and check nothing was created.
"""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    DeploymentFilter,
    DeploymentFilterId,
    DeploymentFilterTags,
    FlowRunFilter,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import resume_flow_run

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import receipt
from bootstrap_flows.config.settings import BootstrapSettings, SettingsError
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.summary import BootstrapResult
from bootstrap_flows.image import promote
from bootstrap_flows.prefect_side.e2e import DEPLOYMENT_TAGS, E2EFailed, run_e2e
from bootstrap_flows.prefect_side.e2e_storage import decode_result, result_location
from bootstrap_flows.safety.preflight import PreflightError
from bootstrap_local.cli import deploy_all, run_and_wait, summary_headline
from bootstrap_local.settings import load_local_settings
from tests.support.flow_runs import run_artifacts, run_logs
from tests.support.paused import Running
from tests.support.platform_state import (
    ACCOUNT,
    api_secrets,
    platform_outputs,
    read_state,
    state_versions,
    tagged_vpcs,
)
from tests.support.ports import free_port
from tests.support.session import AUTH_STRING

pytestmark = pytest.mark.slow


# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()


@pytest.fixture(scope="module")
def deployed(local_stack: BootstrapSettings) -> BootstrapSettings:
    deploy_all(local_stack, LOCAL)
    return local_stack


@pytest.fixture(scope="module")
def first_run(deployed: BootstrapSettings) -> UUID:
    run_id, state = run_and_wait("bootstrap/local", timeout=900)
    assert state == "Completed", run_logs(run_id)[-4000:]
    return run_id


def platform_image(settings: BootstrapSettings) -> str:
    with get_client(sync_client=True) as client:
        pool = client.read_work_pool(settings.work_pool_name)
    return str(pool.base_job_template["variables"]["properties"]["image"]["default"])


def test_bootstrap_creates_the_platform(deployed: BootstrapSettings, first_run: UUID) -> None:
    settings = deployed
    outputs = platform_outputs(settings)

    vpcs = tagged_vpcs(settings)
    assert [v["VpcId"] for v in vpcs] == [outputs["vpc_id"]]
    ec2 = aws.client(settings, "ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [outputs["vpc_id"]]}])
    assert len(subnets["Subnets"]) == 2 * settings.az_count
    assert len(outputs["private_subnet_ids"]) == settings.az_count
    assert len({s["AvailabilityZone"] for s in subnets["Subnets"]}) == settings.az_count
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [outputs["vpc_id"]]}])
    assert len([n for n in nats["NatGateways"] if n["State"] != "deleted"]) == 1  # single
    group = ec2.describe_security_groups(GroupIds=[outputs["worker_security_group_id"]])
    assert group["SecurityGroups"][0]["IpPermissions"] == []  # no ingress at all

    ecs = aws.client(settings, "ecs")
    cluster = ecs.describe_clusters(clusters=[outputs["cluster_arn"]])["clusters"][0]
    assert cluster["status"] == "ACTIVE"
    iam = aws.client(settings, "iam")
    for arn in ("execution_role_arn", "worker_task_role_arn", "flow_run_task_role_arn"):
        iam.get_role(RoleName=outputs[arn].rsplit("/", 1)[-1])
    # ECS's service-linked role: made by the run's first change, or by an earlier run here.
    linked = iam.get_role(RoleName="AWSServiceRoleForECS")["Role"]
    assert linked["Path"] == "/aws-service-role/ecs.amazonaws.com/"
    repo = aws.client(settings, "ecr").describe_repositories(
        repositoryNames=[outputs["ecr_repository_name"]]
    )["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    secret = aws.client(settings, "secretsmanager").get_secret_value(
        SecretId=outputs["prefect_api_secret_arn"]
    )
    assert secret["SecretString"] == AUTH_STRING  # written by the flow, not by Terraform
    aws.client(settings, "sqs").get_queue_url(QueueName=outputs["observer_queue_name"])

    # The worker service runs the pushed image in the private subnets, and is online.
    service = ecs.describe_services(
        cluster=outputs["cluster_arn"], services=[f"{settings.stack_name}-worker"]
    )["services"][0]
    assert (service["desiredCount"], service["runningCount"]) == (1, 1)
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    assert sorted(network["subnets"]) == sorted(outputs["private_subnet_ids"])
    assert network["assignPublicIp"] == "DISABLED"
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    container = definition["taskDefinition"]["containerDefinitions"][0]
    assert "@sha256:" in container["image"]
    assert container["secrets"][0]["valueFrom"] == outputs["prefect_api_secret_arn"]
    assert AUTH_STRING not in json.dumps(container)
    assert worker_env(settings)["PREFECT_WORKER_QUERY_SECONDS"] == "5"
    with get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(settings.work_pool_name)
        pool = client.read_work_pool(settings.work_pool_name)
    e2e_runs = runs_of("e2e-test/e2e")
    assert workers and pool.type == "ecs"
    assert (
        pool.base_job_template["variables"]["properties"]["image"]["default"]
        == (container["image"])
    )
    # The e2e test flow ran to Completed inside a container started for its ECS task.
    assert [r.state.name for r in e2e_runs if r.state] == ["Completed"]
    summary = next(a for a in run_artifacts(first_run) if a.key == "local-bootstrap-summary")
    assert f"run `{e2e_runs[0].id}` Completed" in str(summary.data)
    assert f"task `arn:aws:ecs:{settings.aws_region}:" in str(summary.data)
    assert f"(image `{container['image'].split('@')[1]}`)" in str(summary.data)
    # What the quick start prints at the end.
    headline = summary_headline(first_run)
    assert headline.startswith("# Bootstrap of `local`")
    assert f"e2e test flow: run `{e2e_runs[0].id}` Completed" in headline

    names = {a.key for a in run_artifacts(first_run)}
    assert {"local-platform-plan", "local-platform-progress", "local-bootstrap-summary"} <= names
    logs = run_logs(first_run)
    assert "Creating module.network" in logs or "Creating module." in logs


def listed(value: str | list[str]) -> list[str]:
    """An IAM policy's one-or-many value as a list."""
    return [value] if isinstance(value, str) else list(value)


def runs_of(deployment: str) -> list[Any]:
    """The runs bootstrap started of one of its test deployments."""
    with get_client(sync_client=True) as client:
        deployment_id = client.read_deployment_by_name(deployment).id
        return list(
            client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["bootstrap-e2e"])),
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            )
        )


def assert_private_encrypted_versioned_tls_only(s3: Any, bucket: str) -> None:
    """A storage bucket's settings as S3 holds them."""
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert set(block.values()) == {True} and len(block) == 4
    (owner,) = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert owner["ObjectOwnership"] == "BucketOwnerEnforced"
    (deny,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "s3:*", "*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    (expiry,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert expiry["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30


def storage_grants(settings: BootstrapSettings, role_arn: str) -> set[tuple[Any, ...]]:
    """(actions, resources) of each statement of the flow-run role's storage policy."""
    role = role_arn.rsplit("/", 1)[-1]
    policy = aws.client(settings, "iam").get_role_policy(RoleName=role, PolicyName="storage")
    document: Any = policy["PolicyDocument"]  # botocore decodes IAM's URL-encoded JSON
    return {
        (tuple(sorted(listed(st["Action"]))), tuple(listed(st["Resource"])))
        for st in document["Statement"]
    }


def test_storage_buckets_blocks_pool_defaults_and_the_result_read_back(
    deployed: BootstrapSettings, first_run: UUID
) -> None:
    """The code and results buckets as S3 holds them, the blocks and pool env on the target
    Prefect, and the storage test flow's result in the results bucket, as the summary shows."""
    settings, outputs = deployed, platform_outputs(deployed)
    buckets = [outputs["code_bucket_name"], outputs["results_bucket_name"]]
    assert buckets == [f"prefect-local-{kind}-{ACCOUNT}" for kind in ("code", "results")]
    s3 = aws.client(settings, "s3")
    for bucket in buckets:
        assert_private_encrypted_versioned_tls_only(s3, bucket)
    # The flow-run role: read on code, read/write on results, those buckets only.
    code, results = (f"arn:aws:s3:::{b}" for b in buckets)
    assert storage_grants(settings, outputs["flow_run_task_role_arn"]) == {
        (("s3:ListBucket",), (code,)),
        (("s3:GetObject",), (f"{code}/*",)),
        (("s3:ListBucket",), (results,)),
        (("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"), (f"{results}/*",)),
    }
    # The blocks on the target Prefect (here the same server): no keys, the emulator's endpoint.
    with get_client(sync_client=True) as client:
        credentials = client.read_block_document_by_name("prefect-local", "aws-credentials")
        stored = {
            kind: client.read_block_document_by_name(f"prefect-local-{kind}", "s3-bucket")
            for kind in ("code", "results")
        }
        pool = client.read_work_pool(settings.work_pool_name)
    assert credentials.data["aws_access_key_id"] is None
    assert credentials.data["aws_secret_access_key"] is None
    endpoint = credentials.data["aws_client_parameters"]["endpoint_url"]
    assert endpoint == LOCAL.aws_endpoint
    for kind, bucket in zip(("code", "results"), buckets, strict=True):
        assert stored[kind].data["bucket_name"] == bucket
        ref = stored[kind].block_document_references["credentials"]["block_document"]
        assert ref["id"] == str(credentials.id)
    assert pool.base_job_template["variables"]["properties"]["env"]["default"] == {
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": "s3-bucket/prefect-local-results",
    }
    # The storage test flow ran the code pushed to the code bucket and its result is in the
    # results bucket, under the key its state names.
    (run,) = runs_of("e2e-storage/e2e-storage")
    assert run.state and run.state.name == "Completed"
    location = result_location(run)
    assert location is not None
    key, serializer = location
    content = s3.get_object(Bucket=buckets[1], Key=key)["Body"].read()
    returned = decode_result(content, serializer)
    assert returned["flow_run_id"] == str(run.id)
    assert returned["code_path"] == "/tmp/storage_e2e_flow.py"
    pushed = s3.list_objects_v2(Bucket=buckets[0], Prefix="bootstrap-e2e/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[-1] for o in pushed] == ["storage_e2e_flow.py"]
    summary = next(a for a in run_artifacts(first_run) if a.key == "local-bootstrap-summary")
    assert f"**storage test flow:** run `{run.id}` Completed" in str(summary.data)
    assert f"result read back from `s3://{buckets[1]}/{key}`" in str(summary.data)
    assert f'"flow_run_id": "{run.id}"' in str(summary.data)


def test_real_ecs_worker_builds_a_private_run_task_request(
    deployed: BootstrapSettings, first_run: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request prefect-aws's ECS worker would send for this pool: private networking only."""
    import asyncio
    from uuid import uuid4

    from prefect.client.schemas.objects import FlowRun
    from prefect_aws.workers.ecs_worker import ECSJobConfiguration, ECSWorker

    for name, value in aws.aws_environment(deployed).items():
        monkeypatch.setenv(name, value)
    outputs = platform_outputs(deployed)
    with get_client(sync_client=True) as client:
        pool = client.read_work_pool(deployed.work_pool_name)
    configuration = asyncio.run(
        ECSJobConfiguration.from_template_and_values(pool.base_job_template, {})
    )
    flow_run = FlowRun(flow_id=uuid4(), name="probe")
    configuration.prepare_for_flow_run(flow_run)
    worker = ECSWorker(work_pool_name=deployed.work_pool_name)
    definition = worker._prepare_task_definition(configuration, deployed.aws_region, flow_run)
    request = worker._prepare_task_run_request(
        configuration, definition, "arn:aws:ecs:us-east-1:123456789012:task-definition/p:1", True
    )
    assert request["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": outputs["private_subnet_ids"],
        "securityGroups": [outputs["worker_security_group_id"]],
        "assignPublicIp": "DISABLED",
    }
    assert request["cluster"] == outputs["cluster_arn"]
    assert request["overrides"]["taskRoleArn"] == outputs["flow_run_task_role_arn"]
    assert definition["executionRoleArn"] == outputs["execution_role_arn"]
    image = definition["containerDefinitions"][0]["image"]
    assert image.startswith(f"127.0.0.1:{LOCAL.registry_port}/") and "@sha256:" in image
    secrets = definition["containerDefinitions"][0]["secrets"]
    assert secrets == [
        {"name": "PREFECT_API_AUTH_STRING", "valueFrom": outputs["prefect_api_secret_arn"]}
    ]


def test_crashing_flow_ends_crashed_via_the_observer(
    deployed: BootstrapSettings, first_run: UUID
) -> None:
    """A flow that exits non-zero in its task: the ECS observer (fed by the task state change
    event) marks it Crashed, and bootstrap's e2e stage reports the state and logs."""
    image = platform_image(deployed)
    with pytest.raises(E2EFailed, match=r"ended Crashed") as caught:
        run_e2e(deployed, image, env={"E2E_FAIL": "1"})
    assert "last logs:" in str(caught.value)


def e2e_deployments_written() -> dict[UUID, Any]:
    """When each of bootstrap's test deployments was last written."""
    tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=[*DEPLOYMENT_TAGS, "local"]))
    with get_client(sync_client=True) as client:
        return {d.id: d.updated for d in client.read_deployments(deployment_filter=tagged)}


def test_second_run_applies_nothing(deployed: BootstrapSettings, first_run: UUID) -> None:
    before, written = state_versions(deployed), e2e_deployments_written()
    run_id, state = run_and_wait("bootstrap/local", timeout=900)
    assert state == "Completed", run_logs(run_id)[-4000:]
    assert state_versions(deployed) == before  # the state object was not rewritten
    # Nor were the test deployments: the same image, the same code (Prefect's upsert would
    # validate their job variables against the pool's template again).
    assert len(written) == 2 and e2e_deployments_written() == written
    plan = next(a for a in run_artifacts(run_id) if a.key == "local-platform-plan")
    assert "no changes" in (plan.description or "")
    logs = run_logs(run_id)
    assert "nothing to apply" in logs
    assert "Created the service-linked role" not in logs  # the first run's are there
    # The test flows ran while the plans did, and stand: nothing they rest on changed.
    assert "Test flows passed ahead" in logs and "the runs made ahead stand" in logs


def test_api_credential_leaks_nowhere(deployed: BootstrapSettings, first_run: UUID) -> None:
    for version in state_versions(deployed):
        assert AUTH_STRING not in read_state(deployed, version["VersionId"])
    assert AUTH_STRING not in run_logs(first_run)
    for artifact in run_artifacts(first_run):
        assert AUTH_STRING not in json.dumps(artifact.data) + str(artifact.description)
    for path in deployed.environment_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert AUTH_STRING.encode() not in path.read_bytes(), path


def test_bad_input_fails_before_anything_changes(deployed: BootstrapSettings) -> None:
    s3 = aws.client(deployed, "s3")
    buckets_before = s3.list_buckets()["Buckets"]
    with pytest.raises(SettingsError, match=r"vpc_cidr \[BOOTSTRAP_VPC_CIDR\]"):
        bootstrap(environment="local", overrides={"vpc_cidr": "10.0.0.0/33", "name_prefix": "bad"})
    with pytest.raises(SettingsError, match="never pass secrets as flow parameters"):
        bootstrap(environment="local", overrides={"prefect_api_key": "x", "name_prefix": "bad"})
    with pytest.raises(PreflightError, match="cannot reach http://127.0.0.1"):
        bootstrap(
            environment="local",
            overrides={"aws_endpoint_url": f"http://127.0.0.1:{free_port()}", "name_prefix": "bad"},
        )
    assert s3.list_buckets()["Buckets"] == buckets_before


def test_a_change_that_replaces_the_vpc_waits_for_approval_and_rejecting_changes_nothing(
    deployed: BootstrapSettings, first_run: UUID
) -> None:
    versions = state_versions(deployed)
    vpcs = tagged_vpcs(deployed)
    run = Running(bootstrap, environment="local", overrides={"vpc_cidr": "10.9.0.0/16"})
    paused = run.paused_run()
    with get_client(sync_client=True) as client:
        (form,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["local-platform-approval"]))
        )
    assert "**replace**" in str(form.data) and "`cidr_block`" in str(form.data)
    resume_flow_run(paused, run_input={"approve": False, "comment": "wrong CIDR"})
    state = run.final()
    assert (state.type, state.name) == (StateType.CANCELLED, "Rejected")
    assert state_versions(deployed) == versions
    assert tagged_vpcs(deployed) == vpcs


def worker_env(settings: BootstrapSettings) -> dict[str, str]:
    """The worker container's plain environment, as its service's task definition says."""
    ecs = aws.client(settings, "ecs")
    (service,) = ecs.describe_services(
        cluster=platform_outputs(settings)["cluster_arn"],
        services=[f"{settings.stack_name}-worker"],
    )["services"]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    container = definition["taskDefinition"]["containerDefinitions"][0]
    return {pair["name"]: pair["value"] for pair in container["environment"]}


def rerun(overrides: dict[str, Any]) -> tuple[BootstrapResult, str]:
    state = bootstrap(environment="local", overrides=overrides, return_state=True)
    result = state.result()
    assert isinstance(result, BootstrapResult), state
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return result, run_logs(run_id)


def test_a_rerun_that_changes_the_worker_runs_the_test_flows_again(
    deployed: BootstrapSettings, first_run: UUID
) -> None:
    # The runs started ahead used the worker as it was; the worker it changed is tested anew.
    changed, logs = rerun({"worker_query_seconds": 4})
    assert changed.applied == {"platform": False, "worker": True}
    assert worker_env(deployed)["PREFECT_WORKER_QUERY_SECONDS"] == "4"
    # They finished before the apply replaced the worker that ran them (one it had picked up
    # was left Pending, with no worker to start it).
    first_change = re.search(r"^(Creating|Updating|Replacing|Destroying) \S+ \.\.\.$", logs, re.M)
    assert first_change is not None
    assert 0 <= logs.find("Test flows passed ahead") < first_change.start()
    assert "Test flows run again, after the plans: worker stack applied" in logs
    assert "the runs made ahead stand" not in logs
    ahead = re.search(r"Test flows passed ahead: runs (\S+) and (\S+),", logs)
    assert ahead is not None
    assert changed.e2e.flow_run_id != ahead[1]
    assert changed.storage_e2e.flow_run_id != ahead[2]
    # Not restored: the teardown test comes next, and the bootstrap after it starts from defaults
    # (a restoring re-run cost a worker deploy and four test flow runs, ~100 s of the module).


def test_teardown_leaves_nothing_but_state(deployed: BootstrapSettings, first_run: UUID) -> None:
    run_id, state = run_and_wait("teardown/local", timeout=900)
    assert state == "Completed", run_logs(run_id)[-4000:]
    assert tagged_vpcs(deployed) == []
    ecs = aws.client(deployed, "ecs")
    arns = ecs.list_clusters()["clusterArns"]
    clusters = ecs.describe_clusters(clusters=arns)["clusters"] if arns else []
    assert [c["clusterName"] for c in clusters if c["status"] == "ACTIVE"] == []
    assert aws.client(deployed, "ecr").describe_repositories()["repositories"] == []
    assert aws.client(deployed, "sqs").list_queues().get("QueueUrls", []) == []
    roles = aws.client(deployed, "iam").list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith("prefect-local")] == []
    assert len(state_versions(deployed)) >= 2  # history of the state is kept
    # Listed from the emulated account (tagging API and per service), not taken from Terraform:
    # only the state bucket is left, and the API secret for AWS's 7-day recovery window.
    (secret,) = api_secrets(deployed)
    assert [item.resource for item in receipt.leftovers(deployed)] == [
        f"arn:aws:s3:::{deployed.state_bucket_name(ACCOUNT)}",
        secret["ARN"],
    ]
    # The code and results buckets were emptied of what bootstrap wrote, then destroyed.
    buckets = [b["Name"] for b in aws.client(deployed, "s3").list_buckets()["Buckets"]]
    assert [b for b in buckets if b.startswith("prefect-local-")] == [
        deployed.state_bucket_name(ACCOUNT)
    ]
    # The worker's, deregistered by the drain. By family prefix: ListTaskDefinitions' familyPrefix
    # is a whole family name, and the worker's families end in a deployment or flow id.
    pages = ecs.get_paginator("list_task_definition_families").paginate(
        familyPrefix="prefect_", status="ACTIVE"
    )
    assert [family for page in pages for family in page["families"]] == []
    with get_client(sync_client=True) as client:
        assert client.read_work_pool(deployed.work_pool_name).is_paused
        for deployment in ("e2e-test/e2e", "e2e-storage/e2e-storage"):
            with pytest.raises(ObjectNotFound):
                client.read_deployment_by_name(deployment)
        # Its image is gone with the repository: nothing to promote from here any more.
        assert client.read_variable_by_name(promote.variable_name("local")) is None
    (listed,) = [a for a in run_artifacts(run_id) if a.key == "local-teardown-receipt"]
    notes = [row["note"] for row in json.loads(str(listed.data))]
    until = receipt.SCHEDULED.format(date=f"{secret['DeletedDate']:%Y-%m-%d}")
    assert notes == ["kept: Terraform state history", until], listed.data


def test_only_the_configured_environment_is_checked_on_a_schedule(
    deployed: BootstrapSettings,
) -> None:
    with get_client(sync_client=True) as client:
        local = client.read_deployment_by_name("drift-check/local")
        # dev is not configured here (environments/dev.env names no account): not registered,
        # so no red CheckFailed runs for it.
        with pytest.raises(ObjectNotFound):
            client.read_deployment_by_name("drift-check/dev")
    assert [s.active for s in local.schedules] == [True]


def test_bootstrap_again_at_once_after_teardown(deployed: BootstrapSettings) -> None:
    """Issue 23: bootstrap at once after the teardown test. The secret keeps AWS's 7-day recovery
    window here too (and the service its DRAINING time): bootstrap restores and adopts the secret,
    it makes no other. One cycle: a second teardown and bootstrap would prove nothing new and cost
    the suite's longest module two more full runs."""
    (torn_down,) = api_secrets(deployed)  # scheduled for deletion by the teardown test
    run_id, state = run_and_wait("bootstrap/local", timeout=900)
    assert state == "Completed", run_logs(run_id)[-4000:]
    (secret,) = api_secrets(deployed)
    assert secret["ARN"] == torn_down["ARN"] and "DeletedDate" not in secret
    said = rf"Adopting \S+ <- secret {re.escape(secret['ARN'])} \(scheduled .+: restored\)"
    assert re.search(said, run_logs(run_id)), run_logs(run_id)
    value = aws.client(deployed, "secretsmanager").get_secret_value(SecretId=secret["ARN"])
    assert value["SecretString"] == AUTH_STRING
