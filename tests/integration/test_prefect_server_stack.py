"""The prefect_server module on the emulator: apply, plan again with no changes, destroy.

Through `examples/prefect-server` (network, cluster, logs, a Route 53 zone and the module with
an ACM certificate it issues), on a moto server of this test's own. With the final snapshot
on: a second database of the same name is made and destroyed too, and its final snapshot must
not collide with the first one's (RDS refuses a snapshot identifier that exists).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_flows.terraform import server_stack
from bootstrap_flows.terraform.runner import Terraform
from tests.support.servers import moto_server

pytestmark = pytest.mark.slow

EXAMPLE = PROJECT_ROOT / "infrastructure" / "terraform" / "examples" / "prefect-server"


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
    # moto waits 60 s before it marks a DNS-validated certificate ISSUED unless told otherwise.
    with moto_server(
        tmp_path / "moto.log", managed_policies=True, env={"MOTO_ACM_VALIDATION_WAIT": "1"}
    ) as endpoint:
        mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
        # A copy of the tree: the example's local state must not land in the checkout.
        tree = tmp_path / "terraform"
        shutil.copytree(EXAMPLE.parents[1], tree, ignore=shutil.ignore_patterns(".terraform*"))
        # The example throws its database away; here it keeps a final snapshot, as bootstrap's.
        (tree / "examples" / EXAMPLE.name / "final_snapshot_override.tf").write_text(
            'module "server" {\n  db_final_snapshot = true\n}\n'
        )
        terraform = Terraform(
            stack_dir=tree / "examples" / EXAMPLE.name,
            work_dir=tmp_path / "work",
            env={
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_MAX_ATTEMPTS": "2",
            },
            provider_mirror=Path(mirror) if mirror else None,
        )
        var_file = tmp_path / "vars.json"
        var_file.write_text(json.dumps({"region": "us-east-1"}))
        terraform.init(backend_config=None)
        plan = terraform.plan(var_file=var_file)
        outputs = terraform.apply(plan)
        assert outputs["api_url"] == "https://prefect.example.internal/api"

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
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
        groups = outputs["security_group_ids"]
        ec2 = session.client("ec2", endpoint_url=endpoint)
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


def final_snapshot(tree: Path) -> str:
    """The final snapshot's name the example's local state records for its database."""
    state = json.loads((tree / "examples" / EXAMPLE.name / "terraform.tfstate").read_text())
    name = server_stack.final_snapshot_identifier(state)
    assert name and re.fullmatch(r"example-server-final-[0-9]{14}", name), name
    return name
