"""The drift-check flow against the real local stack (moto, Prefect server, Terraform, Docker).

One bootstrap, then out-of-band changes made with boto3 and the Prefect client, each checked for
the finding it must produce; the fixtures chain so the checks run in order: clean -> drifted
(twice) -> ECR repository and NAT gateway deleted -> remediated (every change undone, clean) ->
clean again. The pure logic (plan JSON to findings, rules, bookkeeping, report) is tested fast
in tests/unit/drift.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from bootstrap_flows.drift.bookkeeping import EVENT_DETECTED, EVENT_RESOLVED
from bootstrap_flows.drift.findings import DriftCheckFailed, DriftDetected, DriftReport, Finding

# The first of the modules that share the worker's `local` (tests/schedule.py's SHARED): it
# changes the environment by hand and leaves it remediated and clean for those after it.

RESOURCE = "bootstrap-flows.environment.local"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
ROGUE_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
SSH_FROM_ANYWHERE = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "rogue ssh"}],
}


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
    from bootstrap_flows.flows.drift_check import drift_check

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
    from tests.support.ports import free_port

    failed = check(overrides={"aws_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    assert (failed.state_type, failed.state_name) == ("FAILED", "CheckFailed")
    assert failed.report.status == "check-failed" and failed.report.findings == []
    assert "preflight" in failed.report.errors[0]


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def drifted(environment: Environment, clean: Checked) -> Checked:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    from bootstrap_flows.aws_side import clients as aws

    settings, platform, worker = environment.settings, environment.platform, environment.worker
    ec2 = aws.client(settings, "ec2")
    ec2.create_tags(Resources=[platform.vpc_id], Tags=[{"Key": "Owner", "Value": "someone"}])
    aws.client(settings, "logs").put_retention_policy(
        logGroupName=platform.log_group_name, retentionInDays=30
    )
    ec2.authorize_security_group_ingress(
        GroupId=platform.worker_security_group_id, IpPermissions=[SSH_FROM_ANYWHERE]
    )
    aws.client(settings, "ecs").update_service(
        cluster=platform.cluster_arn, service=worker.service_name, desiredCount=2
    )
    iam = aws.client(settings, "iam")
    iam.attach_role_policy(RoleName=role_name(platform.execution_role_arn), PolicyArn=ADMIN)
    iam.put_role_policy(
        RoleName=role_name(platform.worker_task_role_arn),
        PolicyName="rogue",
        PolicyDocument=ROGUE_POLICY,
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
    """The group owns its (empty) ingress: the refresh sees the rule; the plan that would remove
    it is the same finding, said once."""
    finding = drifted.has("drift", "aws_security_group.worker", "ingress[+]")
    assert '"from_port":22' in finding.actual and "0.0.0.0/0" in finding.actual
    assert not [f for f in drifted.report.findings if f.attribute.startswith("ingress[-]")]


@pytest.mark.slow
def test_policies_attached_and_put_on_roles(drifted: Checked) -> None:
    """The roles' own policies are not drift; ones added by hand are, once each (the roles'
    exclusive-policy resources restate the same change)."""
    finding = drifted.has("drift", "aws_iam_role.execution", "managed_policy_arns[+]")
    assert finding.actual == ADMIN
    finding = drifted.has("drift", "aws_iam_role.worker", "inline_policy[+]")
    assert '"name":"rogue"' in finding.actual
    iam = {(f.resource, f.attribute) for f in drifted.report.findings if "aws_iam_" in f.resource}
    assert iam == {
        ("module.iam.aws_iam_role.execution", "managed_policy_arns[+]"),
        ("module.iam.aws_iam_role.worker", "inline_policy[+]"),
    }


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
        ("drift", "inline_policy[+]"),
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
def deleted(environment: Environment, drifted_again: Checked) -> Checked:
    from bootstrap_flows.aws_side import clients as aws

    settings, platform = environment.settings, environment.platform
    aws.client(settings, "ecr").delete_repository(
        repositoryName=platform.ecr_repository_name, force=True
    )
    # AWS disassociates the gateway's EIP (moto 5.2.6 does not; local/moto_server.py does).
    aws.client(settings, "ec2").delete_nat_gateway(NatGatewayId=platform.nat_gateway_ids[0])
    return check()


@pytest.mark.slow
def test_ecr_repository_deleted(deleted: Checked) -> None:
    finding = deleted.has("image", "ecr_image.", "imageDigest")
    assert finding.actual == "repository deleted" and finding.expected.startswith("sha256:")
    finding = deleted.has("drift", "aws_ecr_repository.this", "(resource)")
    assert finding.action == "deleted"
    # A changed set of findings is news again.
    assert deleted.report.event == EVENT_DETECTED


@pytest.mark.slow
def test_nat_gateway_deleted(deleted: Checked) -> None:
    finding = deleted.has("drift", "aws_nat_gateway.this[0]", "(resource)")
    assert finding.action == "deleted"
    # Its EIP's lost association and the routes a re-apply re-points are that one finding.
    echoes = [f for f in deleted.report.findings if "aws_eip." in f.resource]
    echoes += [f for f in deleted.report.findings if "aws_route." in f.resource]
    assert echoes == []


@pytest.fixture(scope="module")
def remediated(deleted: Checked) -> Checked:
    return check(remediate=True)


@pytest.mark.slow
def test_remediate_repairs_every_change(remediated: Checked) -> None:
    """Bootstrap puts back everything changed by hand: what it declares and what it owns
    exclusively (the worker group's ingress, the roles' policies), and re-creates what was
    deleted; the re-check after it is clean."""
    assert remediated.report.remediation and "bootstrap re-applied" in remediated.report.remediation
    assert (remediated.state_type, remediated.state_name) == ("COMPLETED", "Completed"), (
        remediated.report.remediation,
        remediated.report.findings,
    )
    assert remediated.report.findings == [] and remediated.report.errors == []
    assert remediated.report.event == EVENT_RESOLVED


@pytest.mark.slow
def test_changes_by_hand_are_gone_from_aws(environment: Environment, remediated: Checked) -> None:
    from bootstrap_flows.aws_side import clients as aws

    settings, platform = environment.settings, environment.platform
    ec2, iam = aws.client(settings, "ec2"), aws.client(settings, "iam")
    [group] = ec2.describe_security_groups(GroupIds=[platform.worker_security_group_id])[
        "SecurityGroups"
    ]
    assert group["IpPermissions"] == []
    attached = iam.list_attached_role_policies(RoleName=role_name(platform.execution_role_arn))
    assert ADMIN not in {p["PolicyArn"] for p in attached["AttachedPolicies"]}
    inline = iam.list_role_policies(RoleName=role_name(platform.worker_task_role_arn))
    assert inline["PolicyNames"] == ["prefect-ecs-worker"]
    available = [
        {"Name": "vpc-id", "Values": [platform.vpc_id]},
        {"Name": "state", "Values": ["available"]},
    ]
    [nat] = ec2.describe_nat_gateways(Filters=available)["NatGateways"]
    assert nat["NatGatewayAddresses"][0]["AllocationId"]


@pytest.fixture(scope="module")
def clean_again(remediated: Checked) -> Checked:
    return check()


@pytest.mark.slow
def test_clean_again_after_remediation(remediated: Checked, clean_again: Checked) -> None:
    final = clean_again
    assert (final.state_type, final.state_name) == ("COMPLETED", "Completed"), final.report.findings
    assert final.report.findings == [] and final.report.event is None
    # Resolved once, by the remediating run's re-check; give a second event time to arrive.
    events = drift_events([remediated, final], wait_for=2, timeout=5)
    assert [e.event for e in events] == [EVENT_RESOLVED]
