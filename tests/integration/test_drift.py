"""The drift-check flow against the real local stack (moto, Prefect server, Terraform, Docker).

One bootstrap, then out-of-band changes made with boto3 and the Prefect client, each checked for
the finding it must produce; the fixtures chain so the checks run in order: clean -> drifted
(twice) -> ECR repository deleted -> remediated -> clean again. The pure logic (plan JSON to
findings, rules, bookkeeping, report) is tested fast in tests/unit/drift.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from bootstrap_flows.drift.bookkeeping import EVENT_DETECTED, EVENT_RESOLVED
from bootstrap_flows.drift.findings import DriftCheckFailed, DriftDetected, DriftReport, Finding

RESOURCE = "bootstrap-flows.environment.local"


@dataclass
class Checked:
    run_id: UUID
    state_name: str
    state_type: str
    report: DriftReport

    def has(self, kind: str, resource: str, attribute: str) -> Finding:
        matches = [
            f
            for f in self.report.findings
            if f.kind == kind and resource in f.resource and f.attribute == attribute
        ]
        assert matches, f"no {kind} finding {resource} {attribute} in:\n" + "\n".join(
            f"  {f.kind} {f.resource} {f.attribute}: {f.expected} -> {f.actual}"
            for f in self.report.findings
        )
        return matches[0]


def check(**parameters: Any) -> Checked:
    from bootstrap_flows.drift.flow import drift_check

    state = drift_check(environment="local", **parameters, return_state=True)
    result = state.result(raise_on_failure=False)
    report = result.report if isinstance(result, DriftDetected | DriftCheckFailed) else result
    assert isinstance(report, DriftReport), result
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return Checked(run_id, str(state.name), str(state.type.value), report)


def drift_events(runs: list[Checked], wait_for: int, timeout: float = 30.0) -> list[Any]:
    """Drift events emitted by these runs, as the Prefect server stored them."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    wanted = {f"prefect.flow-run.{run.run_id}" for run in runs}
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            page = client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(prefix=["bootstrap.drift."]),
                    resource=EventResourceFilter(id=[RESOURCE]),
                ),
                limit=50,  # the server's maximum page size
            )
        events = [e for e in page.events if wanted & {r.id for r in e.related}]
        if len(events) >= wait_for or time.monotonic() >= deadline:
            return events
        time.sleep(1)


@dataclass
class Environment:
    settings: Any
    platform: Any
    worker: Any


@pytest.fixture(scope="module")
def environment(local_stack: Any) -> Environment:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from bootstrap_flows.flows.bootstrap import bootstrap

    with get_client(sync_client=True) as client:
        # A scheduled drift-check/local (if deployed) would race our runs' bookkeeping.
        with contextlib.suppress(ObjectNotFound):
            client.pause_deployment(client.read_deployment_by_name("drift-check/local").id)
        with contextlib.suppress(ObjectNotFound):
            client.delete_variable_by_name("drift-local")
    # Another test module may have torn the environment down: bring it (back) up.
    result = bootstrap(environment="local")
    return Environment(local_stack, result.platform, result.worker)


@pytest.fixture(scope="module")
def clean(environment: Environment) -> Checked:
    return check()


@pytest.mark.slow
def test_clean_environment_completes_without_event(clean: Checked) -> None:
    assert (clean.state_type, clean.state_name) == ("COMPLETED", "Completed")
    assert clean.report.findings == [] and clean.report.errors == []
    assert clean.report.event is None
    assert drift_events([clean], wait_for=1, timeout=5) == []


@pytest.mark.slow
def test_unreachable_aws_is_check_failed_not_drifted(clean: Checked) -> None:
    from tests.conftest import free_port

    failed = check(overrides={"local_moto_port": free_port()})
    assert (failed.state_type, failed.state_name) == ("FAILED", "CheckFailed")
    assert failed.report.status == "check-failed" and failed.report.findings == []
    assert "preflight" in failed.report.errors[0]


@pytest.fixture(scope="module")
def drifted(environment: Environment, clean: Checked) -> Checked:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    from bootstrap_flows import aws

    settings, platform, worker = environment.settings, environment.platform, environment.worker
    ec2 = aws.client(settings, "ec2")
    ec2.create_tags(Resources=[platform.vpc_id], Tags=[{"Key": "Owner", "Value": "someone"}])
    aws.client(settings, "logs").put_retention_policy(
        logGroupName=platform.log_group_name, retentionInDays=30
    )
    ec2.authorize_security_group_ingress(
        GroupId=platform.worker_security_group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "rogue ssh"}],
            }
        ],
    )
    aws.client(settings, "ecs").update_service(
        cluster=platform.cluster_arn, service=worker.service_name, desiredCount=2
    )
    aws.client(settings, "iam").attach_role_policy(
        RoleName=platform.execution_role_arn.rsplit("/", 1)[-1],
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    with get_client(sync_client=True) as client:
        template = client.read_work_pool(settings.work_pool_name).base_job_template
        template["variables"]["properties"]["cpu"]["default"] = 1024  # owned by bootstrap
        template["variables"]["properties"]["family"] = {"type": "string", "default": "mine"}
        client.update_work_pool(
            settings.work_pool_name, WorkPoolUpdate(base_job_template=template, is_paused=True)
        )
    return check()


@pytest.mark.slow
def test_drift_ends_failed_named_drifted_with_one_event(drifted: Checked) -> None:
    assert (drifted.state_type, drifted.state_name) == ("FAILED", "Drifted")
    assert drifted.report.event == EVENT_DETECTED
    [event] = drift_events([drifted], wait_for=1)
    assert event.event == EVENT_DETECTED
    assert event.resource.id == RESOURCE
    findings = event.payload["findings"]
    assert {(f["resource"], f["attribute"]) for f in findings} == {
        (f.resource, f.attribute) for f in drifted.report.findings
    }
    assert all(f["first_seen"] for f in findings)


@pytest.mark.slow
def test_vpc_tag_added(drifted: Checked) -> None:
    finding = drifted.has("drift", "aws_vpc.this", "tags.Owner")
    assert (finding.expected, finding.actual) == ("(none)", "someone")
    # tags_all repeats it; said once. And the pending undo of it is the same finding.
    assert not [f for f in drifted.report.findings if f.attribute.startswith("tags_all")]
    assert not [f for f in drifted.report.findings if f.kind == "pending"]


@pytest.mark.slow
def test_log_retention_changed(drifted: Checked) -> None:
    finding = drifted.has("drift", "aws_cloudwatch_log_group.this", "retention_in_days")
    assert (finding.expected, finding.actual) == ("14", "30")


@pytest.mark.slow
def test_ingress_rule_added_to_worker_security_group(drifted: Checked) -> None:
    """Its rules are inline blocks and the config has none: only the refresh-only plan sees it."""
    finding = drifted.has("drift", "aws_security_group.worker", "ingress[+]")
    assert '"from_port":22' in finding.actual and "0.0.0.0/0" in finding.actual


@pytest.mark.slow
def test_policy_attached_to_execution_role(drifted: Checked) -> None:
    """The role's own policy attachments are not drift; one attached by hand is."""
    finding = drifted.has("drift", "aws_iam_role.execution", "managed_policy_arns[+]")
    assert finding.actual == "arn:aws:iam::aws:policy/AdministratorAccess"
    roles = [f for f in drifted.report.findings if "aws_iam_role." in f.resource]
    assert roles == [finding]


@pytest.mark.slow
def test_service_desired_count_changed(drifted: Checked) -> None:
    finding = drifted.has("drift", "aws_ecs_service.this", "desired_count")
    assert (finding.expected, finding.actual) == ("1", "2")
    finding = drifted.has("worker", "ecs_service.", "desiredCount")
    assert (finding.expected, finding.actual) == ("1", "2")


@pytest.mark.slow
def test_work_pool_edited_and_paused(drifted: Checked) -> None:
    finding = drifted.has("prefect", "work_pool.ecs-work-pool", "cpu")
    assert (finding.expected, finding.actual) == ("512", "1024")
    drifted.has("prefect", "work_pool.ecs-work-pool", "is_paused")
    # `family` is the user's: bootstrap does not own it, so changing it is not drift.
    assert not [f for f in drifted.report.findings if f.attribute == "family"]


@pytest.mark.slow
def test_nothing_benign_is_reported(drifted: Checked) -> None:
    """Exactly the changes made, nothing from moto's or the provider's churn."""
    assert {(f.kind, f.attribute) for f in drifted.report.findings} == {
        ("drift", "tags.Owner"),
        ("drift", "retention_in_days"),
        ("drift", "ingress[+]"),
        ("drift", "managed_policy_arns[+]"),
        ("drift", "desired_count"),
        ("worker", "desiredCount"),
        ("prefect", "cpu"),
        ("prefect", "is_paused"),
    }


@pytest.fixture(scope="module")
def drifted_again(drifted: Checked) -> Checked:
    return check()


@pytest.mark.slow
def test_same_drift_twice_is_one_event(drifted: Checked, drifted_again: Checked) -> None:
    assert drifted_again.state_name == "Drifted"
    assert drifted_again.report.event is None
    first_seen = drifted.report.first_seen
    assert first_seen and drifted_again.report.first_seen == first_seen
    # Give a second event every chance to arrive before counting.
    events = drift_events([drifted, drifted_again], wait_for=2, timeout=15)
    assert [e.event for e in events] == [EVENT_DETECTED]


@pytest.fixture(scope="module")
def repository_deleted(environment: Environment, drifted_again: Checked) -> Checked:
    from bootstrap_flows import aws

    aws.client(environment.settings, "ecr").delete_repository(
        repositoryName=environment.platform.ecr_repository_name, force=True
    )
    return check()


@pytest.mark.slow
def test_ecr_repository_deleted(repository_deleted: Checked) -> None:
    finding = repository_deleted.has("image", "ecr_image.", "imageDigest")
    assert finding.actual == "repository deleted" and finding.expected.startswith("sha256:")
    finding = repository_deleted.has("drift", "aws_ecr_repository.this", "(resource)")
    assert finding.action == "deleted"
    # A changed set of findings is news again.
    assert repository_deleted.report.event == EVENT_DETECTED


@pytest.fixture(scope="module")
def remediated(repository_deleted: Checked) -> Checked:
    return check(remediate=True)


@pytest.mark.slow
def test_remediate_reapplies_through_bootstrap(remediated: Checked) -> None:
    """Bootstrap puts back what it owns; what a normal plan never touches stays reported.

    The worker security group declares no `ingress` and the execution role does not manage its
    attachments exclusively, so neither the rogue rule nor the extra policy is removed by an
    apply: the drift check keeps reporting them (declaring `ingress = []` would change this).
    """
    assert remediated.report.remediation and "bootstrap re-applied" in remediated.report.remediation
    remaining = {(f.kind, f.attribute) for f in remediated.report.findings}
    assert remaining == {("drift", "ingress[+]"), ("drift", "managed_policy_arns[+]")}


@pytest.mark.slow
def test_clean_again_resolves(environment: Environment, remediated: Checked) -> None:
    from bootstrap_flows import aws

    settings, platform = environment.settings, environment.platform
    aws.client(settings, "ec2").revoke_security_group_ingress(
        GroupId=platform.worker_security_group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    aws.client(settings, "iam").detach_role_policy(
        RoleName=platform.execution_role_arn.rsplit("/", 1)[-1],
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    final = check()
    assert (final.state_type, final.state_name) == ("COMPLETED", "Completed"), final.report.findings
    assert final.report.event == EVENT_RESOLVED
    [event] = drift_events([final], wait_for=1)
    assert event.event == EVENT_RESOLVED
