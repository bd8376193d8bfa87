"""Terraform's `show -json` of a refresh-only plan and of a normal plan, to findings."""

from __future__ import annotations

from bootstrap_flows.drift.plans import (
    drift_findings,
    pending_findings,
    state_resources,
    without_drift_echoes,
)
from tests.unit.drift.shown import drift_entry, finding, in_state, plan, rows


def test_deleted_resources_and_tag_mirrors() -> None:
    vpc = {"tags": {"Name": "v"}, "tags_all": {"Name": "v", "Project": "p"}}
    vpc_after = {
        "tags": {"Name": "v", "Owner": "me"},
        "tags_all": {"Name": "v", "Owner": "me", "Project": "x"},
    }
    shown = plan(
        [
            drift_entry("aws_vpc.this", "aws_vpc", vpc, vpc_after),
            {
                "address": "aws_ecr_repository.this",
                "type": "aws_ecr_repository",
                "change": {"actions": ["delete"], "before": {"name": "r"}, "after": None},
            },
        ],
        [],
    )
    assert rows(drift_findings(shown, "platform")) == {
        ("aws_vpc.this", "tags.Owner", "(none)", "me"),
        # A default tag changed by hand exists only in tags_all: kept.
        ("aws_vpc.this", "tags_all.Project", "p", "x"),
        ("aws_ecr_repository.this", "(resource)", "exists", "deleted outside Terraform"),
    }


def test_drift_findings_name_their_stack_and_action() -> None:
    shown = plan([drift_entry("aws_vpc.this", "aws_vpc", {"a": 1}, {"a": 2})], [])
    [found] = drift_findings(shown, "worker")
    assert (found.kind, found.stack, found.action) == ("drift", "worker", "changed")


def test_sensitive_drift_is_masked() -> None:
    shown = plan(
        [
            drift_entry(
                "aws_secretsmanager_secret_version.api",
                "aws_secretsmanager_secret_version",
                {"secret_string": "old-secret"},
                {"secret_string": "new-secret"},
                before_sensitive={"secret_string": True},
                after_sensitive={"secret_string": True},
            )
        ],
        [],
    )
    assert rows(drift_findings(shown, "platform")) == {
        ("aws_secretsmanager_secret_version.api", "secret_string", "(sensitive)", "(sensitive)")
    }


def test_state_resources_walks_modules_and_skips_data_sources() -> None:
    shown = {
        "prior_state": {
            "values": {
                "root_module": {
                    "resources": [{"address": "aws_vpc.this", "mode": "managed"}],
                    "child_modules": [
                        {
                            "resources": [
                                {"address": "module.a.data.aws_region.this", "mode": "data"},
                                {"address": "module.a.aws_subnet.this"},
                            ],
                            "child_modules": [{"resources": [{"address": "module.a.module.b.x"}]}],
                        }
                    ],
                }
            }
        }
    }
    assert [r["address"] for r in state_resources(shown)] == [
        "aws_vpc.this",
        "module.a.aws_subnet.this",
        "module.a.module.b.x",
    ]
    assert state_resources({}) == []


def test_pending_changes_and_drift_echoes() -> None:
    shown = {
        "resource_changes": [
            {
                "address": "aws_cloudwatch_log_group.this",
                "change": {
                    "actions": ["update"],
                    "before": {"retention_in_days": 30, "arn": "a"},
                    "after": {"retention_in_days": 14, "arn": None},
                    "after_unknown": {"arn": True},
                },
            },
            {
                "address": "aws_sqs_queue.new",
                "change": {"actions": ["create"], "before": None, "after": {}},
            },
            {"address": "aws_vpc.this", "change": {"actions": ["no-op"]}},
        ]
    }
    pending = pending_findings(shown, "platform")
    assert rows(pending) == {
        ("aws_cloudwatch_log_group.this", "retention_in_days", "14", "30"),
        ("aws_sqs_queue.new", "(resource)", "present", "absent"),
    }
    drift = [
        finding("aws_cloudwatch_log_group.this", "retention_in_days", "14", "30"),
    ]
    # Undoing drift is the drift finding already; only the code change stays pending.
    assert rows(without_drift_echoes(pending, drift)) == {
        ("aws_sqs_queue.new", "(resource)", "present", "absent")
    }


def test_pending_replace_delete_and_changes_known_only_after_apply() -> None:
    shown = {
        "resource_changes": [
            {
                "address": "aws_ecs_task_definition.this",
                "change": {
                    "actions": ["delete", "create"],
                    "before": {"cpu": "512", "revision": 3},
                    "after": {"cpu": "1024", "revision": None},
                    "after_unknown": {"revision": True},
                },
            },
            {
                "address": "aws_ecs_service.this",
                "change": {
                    "actions": ["update"],
                    "before": {"task_definition": "arn:3"},
                    "after": {"task_definition": None},
                    "after_unknown": {"task_definition": True},
                },
            },
            {"address": "aws_sqs_queue.old", "change": {"actions": ["delete"], "before": {}}},
            {"address": "data.aws_region.this", "change": {"actions": ["read"]}},
        ]
    }
    found = {
        (f.resource, f.attribute, f.action, f.expected, f.actual)
        for f in pending_findings(shown, "worker")
    }
    assert found == {
        ("aws_ecs_task_definition.this", "cpu", "replace", "1024", "512"),
        # Only computed values change: the change itself is the finding.
        ("aws_ecs_service.this", "(resource)", "update", "(update)", "(current)"),
        ("aws_sqs_queue.old", "(resource)", "delete", "absent", "present"),
    }


def test_drift_echoes_of_deleted_resources_and_tag_mirrors() -> None:
    drift = [
        finding("aws_ecr_repository.this", "(resource)", "exists", "deleted outside Terraform"),
        finding("aws_vpc.this", "tags.Owner", "(none)", "me"),
    ]
    pending = [
        finding("aws_ecr_repository.this", "(resource)", kind="pending"),
        finding("aws_vpc.this", "tags_all.Owner", "(none)", "me", kind="pending"),
        finding("aws_vpc.this", "tags_all.Project", "p", "x", kind="pending"),
    ]
    assert without_drift_echoes(pending, drift) == [pending[2]]


def test_a_rule_added_by_hand_and_the_plan_removing_it_are_one_finding() -> None:
    rule = {"from_port": 22, "cidr_blocks": ["0.0.0.0/0"]}
    shown = {
        "resource_changes": [
            {
                "address": "aws_security_group.worker",
                "type": "aws_security_group",
                "change": {
                    "actions": ["update"],
                    "before": {"ingress": [rule], "egress": [{"from_port": 443}]},
                    "after": {"ingress": [], "egress": [{"from_port": 443}]},
                },
            }
        ]
    }
    pending = pending_findings(shown, "platform")
    shown_rule = '{"cidr_blocks":["0.0.0.0/0"],"from_port":22}'
    assert rows(pending) == {("aws_security_group.worker", "ingress[-]", "(none)", shown_rule)}
    added = finding("aws_security_group.worker", "ingress[+]", "(none)", shown_rule)
    assert without_drift_echoes(pending, [added]) == []
    # Another rule added by hand is not this one's echo.
    other = finding("aws_security_group.worker", "ingress[+]", "(none)", '{"from_port":23}')
    assert without_drift_echoes(pending, [other]) == pending


def test_pending_consequences_of_a_resource_deleted_by_hand_are_its_finding() -> None:
    """Re-creating a deleted NAT gateway updates the routes to it (new id): not news."""
    nat = {"id": "nat-1", "allocation_id": "eipalloc-1"}
    exclusive = {"role_name": "exec", "policy_arns": ["arn:ours", "arn:by-hand"]}
    shown = {
        "resource_drift": [
            {
                "address": "aws_nat_gateway.this[0]",
                "type": "aws_nat_gateway",
                "change": {"actions": ["delete"], "before": nat, "after": None},
            }
        ],
        "resource_changes": [
            {
                "address": "aws_nat_gateway.this[0]",
                "type": "aws_nat_gateway",
                "change": {"actions": ["create"], "before": None, "after": {}},
            },
            {
                "address": "aws_route.private_nat[0]",
                "type": "aws_route",
                "change": {
                    "actions": ["update"],
                    "before": {"nat_gateway_id": "nat-1", "route_table_id": "rtb-1"},
                    "after": {"nat_gateway_id": None, "route_table_id": "rtb-1"},
                    "after_unknown": {"nat_gateway_id": True},
                },
            },
            {
                # The plan's undo of a policy attached by hand: the role's finding.
                "address": "aws_iam_role_policy_attachments_exclusive.exec",
                "type": "aws_iam_role_policy_attachments_exclusive",
                "change": {
                    "actions": ["update"],
                    "before": exclusive,
                    "after": {**exclusive, "policy_arns": ["arn:ours"]},
                },
            },
            {
                "address": "aws_ecs_service.this",
                "type": "aws_ecs_service",
                "change": {
                    "actions": ["update"],
                    "before": {"task_definition": "arn:3"},
                    "after": {"task_definition": None},
                    "after_unknown": {"task_definition": True},
                },
            },
        ],
    }
    pending = pending_findings(shown, "platform")
    assert rows(pending) == {
        ("aws_nat_gateway.this[0]", "(resource)", "present", "absent"),
        # Recomputed from something not deleted by hand: still reported whole.
        ("aws_ecs_service.this", "(resource)", "(update)", "(current)"),
    }
    gone = finding("aws_nat_gateway.this[0]", "(resource)", "exists", "deleted outside Terraform")
    assert rows(without_drift_echoes(pending, [gone])) == {
        ("aws_ecs_service.this", "(resource)", "(update)", "(current)")
    }


# The server stack's chained groups as moto reports them after bootstrap (captured): each rule is
# its own resource, so the group's `ingress`/`egress` fill in after the group was recorded empty.
_ALB_RULE = {
    "security_group_id": "sg-alb",
    "cidr_ipv4": "10.0.0.0/16",
    "ip_protocol": "tcp",
    "from_port": 443,
    "to_port": 443,
    "description": "HTTPS from 10.0.0.0/16",
}
_TO_SERVER = {
    "security_group_id": "sg-alb",
    "referenced_security_group_id": "sg-server",
    "ip_protocol": "tcp",
    "from_port": 4200,
    "to_port": 4200,
    "description": None,
}


def _as_reported(rule: dict[str, object]) -> dict[str, object]:
    return {
        "cidr_blocks": [rule["cidr_ipv4"]] if rule.get("cidr_ipv4") else [],
        "description": rule.get("description") or "",
        "from_port": rule["from_port"],
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": "tcp",
        "security_groups": [rule["referenced_security_group_id"]]
        if rule.get("referenced_security_group_id")
        else [],
        "self": False,
        "to_port": rule["to_port"],
    }


def _alb_group(ingress: list[dict[str, object]]) -> dict[str, object]:
    return {"id": "sg-alb", "ingress": ingress, "egress": [_as_reported(_TO_SERVER)]}


def test_rules_kept_as_separate_resources_are_not_drift_of_their_group() -> None:
    state = [
        in_state(
            "module.s.aws_security_group.alb",
            "aws_security_group",
            _alb_group([_as_reported(_ALB_RULE)]),
        ),
        in_state(
            "module.s.aws_vpc_security_group_ingress_rule.https",
            "aws_vpc_security_group_ingress_rule",
            _ALB_RULE,
        ),
        in_state(
            "module.s.aws_vpc_security_group_egress_rule.to_server",
            "aws_vpc_security_group_egress_rule",
            _TO_SERVER,
        ),
        in_state(
            "module.s.aws_lb_target_group.this",
            "aws_lb_target_group",
            {"load_balancer_arns": ["arn:lb"]},
        ),
        in_state(
            "module.s.aws_db_instance.this", "aws_db_instance", {"latest_restorable_time": "t2"}
        ),
    ]
    recorded_empty = {"id": "sg-alb", "ingress": [], "egress": []}
    shown = plan(
        [
            drift_entry(
                "module.s.aws_security_group.alb",
                "aws_security_group",
                recorded_empty,
                _alb_group([_as_reported(_ALB_RULE)]),
            ),
            drift_entry(
                "module.s.aws_lb_target_group.this",
                "aws_lb_target_group",
                {"load_balancer_arns": []},
                {"load_balancer_arns": ["arn:lb"]},
            ),
            drift_entry(
                "module.s.aws_db_instance.this",
                "aws_db_instance",
                {"latest_restorable_time": "t1"},
                {"latest_restorable_time": "t2"},
            ),
        ],
        state,
    )
    assert drift_findings(shown, "server") == []


def test_a_rule_added_by_hand_to_such_a_group_is_drift() -> None:
    rogue = {**_ALB_RULE, "cidr_ipv4": "0.0.0.0/0", "description": "by hand"}
    state = [
        in_state(
            "module.s.aws_security_group.alb",
            "aws_security_group",
            _alb_group([_as_reported(_ALB_RULE), _as_reported(rogue)]),
        ),
        in_state(
            "module.s.aws_vpc_security_group_ingress_rule.https",
            "aws_vpc_security_group_ingress_rule",
            _ALB_RULE,
        ),
        in_state(
            "module.s.aws_vpc_security_group_egress_rule.to_server",
            "aws_vpc_security_group_egress_rule",
            _TO_SERVER,
        ),
    ]
    shown = plan(
        [
            drift_entry(
                "module.s.aws_security_group.alb",
                "aws_security_group",
                _alb_group([_as_reported(_ALB_RULE)]),
                _alb_group([_as_reported(_ALB_RULE), _as_reported(rogue)]),
            )
        ],
        state,
    )
    [found] = drift_findings(shown, "server")
    assert (found.resource, found.attribute) == ("module.s.aws_security_group.alb", "ingress[+]")
    assert "0.0.0.0/0" in found.actual
