"""The prefect_server module on the emulator: apply, plan again with no changes, destroy.

Through `examples/prefect-server` (network, cluster, logs, a Route 53 zone and the module with
an ACM certificate it issues), on a moto server of this test's own. With the final snapshot
on: a second database of the same name is made and destroyed too, and its final snapshot must
not collide with the first one's (RDS refuses a snapshot identifier that exists).

Terraform's calls are the operator's (its key is recorded, bootstrap_local/moto_server.py): each
must be allowed by the operator policy rendered for the environment whose names the example
uses (`example-server`, its server module named as the server stack names it), the ACM
certificate and its DNS validation records included (issue 23). The test's own reads sign
with another key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.terraform import server_stack
from tests.support import operator_grants
from tests.support.aws_calls import operator_calls
from tests.support.servers import moto_server
from tests.support.terraform_trees import (
    MOTO_KEYS,
    TERRAFORM_ROOT,
    copied_tree,
    moto_session,
    terraform_on_moto,
)

pytestmark = pytest.mark.slow

EXAMPLE = TERRAFORM_ROOT / "examples" / "prefect-server"
# Terraform signs with the operator key (moto's, recorded); the test's own reads with another.
OPERATOR_KEY, HARNESS_KEY = MOTO_KEYS["AWS_ACCESS_KEY_ID"], "harness"
DOMAIN = "prefect.example.internal"
# The example's names are an environment's: prefix "example", environment "server" (network
# "example-server", log group /ecs/example-server); its server module is named here as the
# server stack names it, <prefix>-<environment>-server.
ENVIRONMENT = {"name_prefix": "example", "environment": "server", "aws_region": "us-east-1"}
SERVER_NAME = "example-server-server"
# The example makes its own zone; bootstrap is given the user's (server_route53_zone_id).
EXAMPLE_ZONE = {"route53:CreateHostedZone", "route53:DeleteHostedZone", "route53:GetDNSSEC"}
EXAMPLE_ZONE |= {"route53:ListTagsForResource", "route53:ChangeTagsForResource"}


# What moto 5.2.1 does not store, so a re-plan on the emulator wants to set it again (measured):
# a security-group rule's description when the rule references another group, and an RDS
# instance's Performance Insights switch. Real AWS keeps both.
MOTO_FORGETS = {"aws_vpc_security_group_ingress_rule": {"description"}}
MOTO_FORGETS["aws_vpc_security_group_egress_rule"] = {"description"}
MOTO_FORGETS["aws_db_instance"] = {"performance_insights_enabled"}


def settled_except_for_moto(shown: dict[str, Any]) -> list[str]:
    """Every planned change that is not one of moto's known gaps (address: attributes)."""
    left = []
    for change in shown.get("resource_changes", []):
        if change["change"]["actions"] == ["no-op"]:
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        forgets = MOTO_FORGETS.get(change["type"], set())
        if change["change"]["actions"] != ["update"] or not changed <= forgets:
            left.append(f"{change['address']} {change['change']['actions']}: {sorted(changed)}")
    return left


def test_server_module_applies_replans_clean_and_destroys(tmp_path: Path) -> None:
    recording = tmp_path / "operator-calls.jsonl"
    record = ["--record-operator-calls", str(recording), "--operator-key", OPERATOR_KEY]
    # moto waits 60 s before it marks a DNS-validated certificate ISSUED unless told otherwise.
    with moto_server(
        tmp_path / "moto.log",
        managed_policies=True,
        env={"MOTO_ACM_VALIDATION_WAIT": "1"},
        args=record,
    ) as endpoint:
        # A copy of the tree: the example's local state must not land in the checkout.
        tree = copied_tree(tmp_path)
        # The example throws its database away; here it keeps a final snapshot, as bootstrap's.
        (tree / "examples" / EXAMPLE.name / "final_snapshot_override.tf").write_text(
            f'module "server" {{\n  db_final_snapshot = true\n  name = "{SERVER_NAME}"\n}}\n'
        )
        terraform = terraform_on_moto(endpoint, tree / "examples" / EXAMPLE.name, tmp_path / "work")
        var_file = tmp_path / "vars.json"
        var_file.write_text(json.dumps({"region": "us-east-1"}))
        terraform.init(backend_config=None)
        plan = terraform.plan(var_file=var_file)
        outputs = terraform.apply(plan)
        assert outputs["api_url"] == f"https://{DOMAIN}/api"

        session = moto_session(key=HARNESS_KEY)
        route53 = session.client("route53", endpoint_url=endpoint)
        (zone,) = route53.list_hosted_zones()["HostedZones"]
        rds = session.client("rds", endpoint_url=endpoint)
        (db,) = rds.describe_db_instances()["DBInstances"]
        assert (db["Engine"], db["StorageEncrypted"], db["PubliclyAccessible"]) == (
            "postgres",
            True,
            False,
        )
        assert db["BackupRetentionPeriod"] == 7 and db["MasterUserSecret"]["SecretArn"]
        # Pinned by major ("16"); RDS (and the emulator, bootstrap_local/aws_like/rds.py)
        # reports the minor it runs. The re-plan below must not see that as a change.
        assert re.fullmatch(r"16\.[0-9]+", db["EngineVersion"]), db["EngineVersion"]
        first = final_snapshot(tree)
        only_alb_to_server_to_database(
            session.client("ec2", endpoint_url=endpoint), outputs["security_group_ids"]
        )

        terraform.plan(var_file=var_file)
        assert settled_except_for_moto(terraform.show_json()) == []

        destroy = terraform.plan(var_file=var_file, destroy=True)
        terraform.apply(destroy)
        assert terraform.output() == {}
        assert rds.describe_db_instances()["DBInstances"] == []

        # A second database of the same name (only it and what it stands on), then its end.
        terraform.apply(
            terraform.plan(var_file=var_file, targets=[server_stack.DATABASE_ADDRESSES[0]])
        )
        second = final_snapshot(tree)
        assert second != first
        terraform.apply(terraform.plan(var_file=var_file, destroy=True))
        snapshots = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        assert sorted(s["DBSnapshotIdentifier"] for s in snapshots) == sorted([first, second])
    operator_policy_allows_every_call(recording, zone["Id"].rsplit("/", 1)[-1])


def only_alb_to_server_to_database(ec2: Any, groups: dict[str, str]) -> None:
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": list(groups.values())}]
    )["SecurityGroupRules"]
    ingress = {
        (r["GroupId"], r.get("ReferencedGroupInfo", {}).get("GroupId"), r["FromPort"])
        for r in rules
        if not r["IsEgress"]
    }
    # ALB -> server -> database, and nothing else from a security group.
    assert (groups["server"], groups["alb"], 4200) in ingress
    assert (groups["db"], groups["server"], 5432) in ingress
    assert not [r for r in rules if r["GroupId"] == groups["db"] and r["IsEgress"]]


def operator_policy_allows_every_call(recording: Path, zone_id: str) -> None:
    """Terraform's calls (apply, re-plan, destroy, the second database) against the policy
    of an environment with server_domain_name and server_route53_zone_id and no certificate:
    each allowed, and each grant the README says this test records was made."""
    calls = [c for c in operator_calls(recording) if c.iam_action not in EXAMPLE_ZONE]
    settings = BootstrapSettings(
        **ENVIRONMENT,
        prefect_server="aws",
        server_domain_name=DOMAIN,
        server_route53_zone_id=zone_id,
    )
    findings = operator_grants.check(calls, settings)
    assert findings.denied == [], findings.report()
    unseen = operator_grants.recorded_in(Path(__file__).name) - findings.seen
    assert not unseen, f"the README says this test records {sorted(unseen)}"


def final_snapshot(tree: Path) -> str:
    """The final snapshot's name the example's local state records for its database."""
    state = json.loads((tree / "examples" / EXAMPLE.name / "terraform.tfstate").read_text())
    name = server_stack.final_snapshot_identifier(state)
    assert name and re.fullmatch(rf"{SERVER_NAME}-final-[0-9]{{14}}", name), name
    return name
