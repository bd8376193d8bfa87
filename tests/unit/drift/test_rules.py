"""What counts as drift where Terraform's own diff cannot say, and the ignore list."""

from __future__ import annotations

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.drift.findings import Finding
from bootstrap_flows.drift.plans import drift_findings
from bootstrap_flows.drift.rules import (
    declared_values,
    ignore_patterns,
    ignored_by,
    mirrored,
    without_ignored,
    without_tag_mirrors,
)
from tests.unit.drift.shown import drift_entry, finding, in_state, plan, rows


def test_companion_resources_are_not_drift_but_extra_attachments_are() -> None:
    role = {"name": "exec", "id": "exec", "inline_policy": [], "managed_policy_arns": []}
    refreshed = {
        **role,
        "inline_policy": [{"name": "logs", "policy": '{"Statement": []}'}],
        "managed_policy_arns": ["arn:aws:iam::aws:policy/Admin", "arn:ours"],
    }
    eip = {"id": "eipalloc-1", "association_id": "", "tags": None}
    eip_after = {"id": "eipalloc-1", "association_id": "eipassoc-1", "tags": {}}
    shown = plan(
        [
            drift_entry("module.m.aws_iam_role.exec", "aws_iam_role", role, refreshed),
            drift_entry("module.m.aws_eip.nat", "aws_eip", eip, eip_after),
        ],
        [
            in_state("module.m.aws_iam_role.exec", "aws_iam_role", refreshed),
            in_state(
                "module.m.aws_iam_role_policy.logs",
                "aws_iam_role_policy",
                {"role": "exec", "name": "logs", "policy": '{"Statement":[]}'},
            ),
            in_state(
                "module.m.aws_iam_role_policy_attachment.ours",
                "aws_iam_role_policy_attachment",
                {"role": "exec", "policy_arn": "arn:ours"},
            ),
            in_state("module.m.aws_eip.nat", "aws_eip", eip_after),
            in_state(
                "module.m.aws_nat_gateway.nat", "aws_nat_gateway", {"allocation_id": "eipalloc-1"}
            ),
        ],
    )
    assert rows(drift_findings(shown, "platform")) == {
        (
            "module.m.aws_iam_role.exec",
            "managed_policy_arns[+]",
            "(none)",
            "arn:aws:iam::aws:policy/Admin",
        )
    }


def test_declared_values_hold_after_an_apply_absorbed_the_drift() -> None:
    """After any apply the state holds what was there; Terraform reports no drift at all."""
    role = {"name": "exec", "managed_policy_arns": ["arn:ours", "arn:by-hand"]}
    shown = plan(
        [],
        [
            in_state("module.m.aws_iam_role.exec", "aws_iam_role", role),
            in_state(
                "module.m.aws_iam_role_policy_attachment.ours",
                "aws_iam_role_policy_attachment",
                {"role": "exec", "policy_arn": "arn:ours"},
            ),
        ],
    )
    assert rows(drift_findings(shown, "platform")) == {
        ("module.m.aws_iam_role.exec", "managed_policy_arns[+]", "(none)", "arn:by-hand"),
    }


def test_exclusive_attachments_restate_the_role_and_are_said_once() -> None:
    """A policy attached by hand drifts the role and its exclusive-attachments resource alike."""
    role = {"name": "exec", "managed_policy_arns": ["arn:ours", "arn:by-hand"]}
    exclusive = {"role_name": "exec", "policy_arns": ["arn:ours"]}
    inline = {"role_name": "exec", "policy_names": ["logs"]}
    shown = plan(
        [
            drift_entry(
                "module.m.aws_iam_role_policy_attachments_exclusive.exec",
                "aws_iam_role_policy_attachments_exclusive",
                exclusive,
                {**exclusive, "policy_arns": ["arn:ours", "arn:by-hand"]},
            ),
            drift_entry(
                "module.m.aws_iam_role_policies_exclusive.exec",
                "aws_iam_role_policies_exclusive",
                inline,
                {**inline, "policy_names": ["logs", "rogue"]},
            ),
        ],
        [
            in_state("module.m.aws_iam_role.exec", "aws_iam_role", role),
            in_state(
                "module.m.aws_iam_role_policy_attachment.ours",
                "aws_iam_role_policy_attachment",
                {"role": "exec", "policy_arn": "arn:ours"},
            ),
        ],
    )
    assert rows(drift_findings(shown, "platform")) == {
        ("module.m.aws_iam_role.exec", "managed_policy_arns[+]", "(none)", "arn:by-hand"),
    }
    assert mirrored("aws_iam_role_policy_attachments_exclusive") == {"policy_arns"}
    assert mirrored("aws_iam_role") == frozenset()


def test_routes_of_a_route_table_are_its_aws_route_resources() -> None:
    ours = {"cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1", "gateway_id": ""}
    rogue = {"cidr_block": "10.9.0.0/16", "gateway_id": "igw-1", "nat_gateway_id": ""}
    table = in_state("module.m.aws_route_table.private", "aws_route_table", {"id": "rtb-1"})
    route = in_state(
        "module.m.aws_route.nat",
        "aws_route",
        {
            "id": "r-rtb-1080289494",
            "route_table_id": "rtb-1",
            "destination_cidr_block": "0.0.0.0/0",
            "nat_gateway_id": "nat-1",
        },
    )
    declared, attached = declared_values(table, [table, route])
    assert declared == {
        "route": [{"nat_gateway_id": "nat-1", "cidr_block": "0.0.0.0/0", "ipv6_cidr_block": None}]
    }
    assert attached == set()
    refreshed = in_state(table["address"], "aws_route_table", {"id": "rtb-1", "route": [ours]})
    assert drift_findings(plan([], [refreshed, route]), "platform") == []
    refreshed["values"]["route"] = [ours, rogue]
    assert rows(drift_findings(plan([], [refreshed, route]), "platform")) == {
        (
            "module.m.aws_route_table.private",
            "route[+]",
            "(none)",
            '{"cidr_block":"10.9.0.0/16","gateway_id":"igw-1"}',
        )
    }


def test_attached_attributes_are_only_aws_s_while_attached() -> None:
    eip = in_state("aws_eip.nat", "aws_eip", {"id": "eipalloc-1"})
    nat = in_state("aws_nat_gateway.nat", "aws_nat_gateway", {"allocation_id": "eipalloc-1"})
    assert "association_id" in declared_values(eip, [eip, nat])[1]
    assert declared_values(eip, [eip])[1] == set()
    # A NAT gateway deleted by hand took the association with it: its deletion is the finding.
    assert "association_id" in declared_values(eip, [eip], gone=[nat])[1]


def test_a_nat_gateway_deleted_by_hand_is_one_finding() -> None:
    """AWS disassociates the gateway's EIP; the EIP's changed attributes are not news."""
    eip = {"id": "eipalloc-1", "association_id": "eipassoc-1", "private_ip": "10.0.0.9"}
    shown = plan(
        [
            drift_entry(
                "module.m.aws_eip.nat",
                "aws_eip",
                eip,
                {**eip, "association_id": "", "private_ip": ""},
            ),
            {
                "address": "module.m.aws_nat_gateway.this[0]",
                "type": "aws_nat_gateway",
                "change": {
                    "actions": ["delete"],
                    "before": {"id": "nat-1", "allocation_id": "eipalloc-1"},
                    "after": None,
                },
            },
        ],
        [in_state("module.m.aws_eip.nat", "aws_eip", {**eip, "association_id": ""})],
    )
    assert rows(drift_findings(shown, "platform")) == {
        ("module.m.aws_nat_gateway.this[0]", "(resource)", "exists", "deleted outside Terraform")
    }


def test_tags_all_repeating_tags_is_said_once() -> None:
    assert without_tag_mirrors(
        [
            ("tags.Owner", "(none)", "me"),
            ("tags_all.Owner", "(none)", "me"),
            ("tags_all.Project", "p", "x"),
        ]
    ) == [("tags.Owner", "(none)", "me"), ("tags_all.Project", "p", "x")]


def test_ignore_patterns() -> None:
    finding = Finding(
        kind="drift",
        resource="module.worker_service.aws_ecs_service.this",
        attribute="desired_count",
        action="changed",
        expected="1",
        actual="2",
    )
    assert ignored_by(finding, ["aws_ecs_service.*:desired_count"])
    assert ignored_by(finding, ["module.worker_service.*"])
    assert ignored_by(finding, ["aws_ecs_service.*:tags.*"]) is None
    assert ignored_by(finding, ["aws_vpc.*"]) is None


def test_ignore_patterns_of_an_environment() -> None:
    settings = load_settings(drift_ignore=["aws_vpc.*:tags.*"])
    assert ignore_patterns(settings, None) == ["aws_vpc.*:tags.*"]
    assert ignore_patterns(settings, {"enable_autoscaling": False}) == ["aws_vpc.*:tags.*"]
    # Application Auto Scaling owns the desired count once it is on.
    assert ignore_patterns(settings, {"enable_autoscaling": True}) == [
        "aws_vpc.*:tags.*",
        "aws_ecs_service.*:desired_count",
    ]


def test_ignored_findings_are_dropped_and_counted() -> None:
    tag = finding("module.network.aws_vpc.this", "tags.Owner")
    count = finding("module.worker.aws_ecs_service.this", "desired_count")
    assert without_ignored([tag, count], ["aws_vpc.*:tags.*"]) == ([count], 1)
    assert without_ignored([tag, count], []) == ([tag, count], 0)
