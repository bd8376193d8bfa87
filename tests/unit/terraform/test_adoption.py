"""Adoption's matching: which planned creates AWS already holds, and when it refuses to guess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bootstrap_flows.terraform.adoption import (
    IMPORTS_FILE,
    AmbiguousAdoption,
    Create,
    Existing,
    config_with_imports,
    identity,
    match,
    owned_ids,
    planned_creates,
    render_imports,
)

OWNER = {"Project": "bootstrap-flows", "Environment": "crash", "Stack": "platform"}
VPC_TAGS = {**OWNER, "ManagedBy": "terraform", "Name": "prefect-crash-vpc"}


def change(address: str, kind: str, actions: list[str], after: dict[str, Any]) -> dict[str, Any]:
    """One entry of `terraform show -json`'s resource_changes, as Terraform 1.11 writes it."""
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": address.rsplit(".", 1)[-1],
        "change": {"actions": actions, "after": after, "after_unknown": {}},
    }


def tagged(resource_id: str, tags: dict[str, str], kind: str = "aws_vpc") -> Existing:
    return Existing(kind, resource_id, {f"tag:{k}": v for k, v in tags.items()}, resource_id)


SHOWN: dict[str, Any] = {
    "resource_changes": [
        change("module.network.aws_vpc.this", "aws_vpc", ["create"], {"tags_all": VPC_TAGS}),
        change("module.iam.aws_iam_role.worker", "aws_iam_role", ["create"], {"name": "w"}),
        # The route table is planned too: the route's parent id is not known yet.
        change("module.network.aws_route.public", "aws_route", ["create"], {"gateway_id": None}),
        # Replacements and updates are the state's own resources, never adopted.
        change("aws_ecs_task_definition.this", "aws_ecs_task_definition", ["delete", "create"], {}),
        change("module.iam.aws_iam_role.other", "aws_iam_role", ["update"], {"name": "o"}),
        # Its create is a put: nothing to look for.
        change("aws_iam_role_policy.p", "aws_iam_role_policy", ["create"], {"name": "p"}),
    ],
    "prior_state": {
        "values": {
            "root_module": {
                "resources": [{"values": {"id": "vpc-root"}}],
                "child_modules": [
                    {
                        "resources": [],
                        "child_modules": [
                            {"resources": [{"values": {"id": "o", "arn": "arn:aws:iam::1:o"}}]}
                        ],
                    }
                ],
            }
        }
    },
}


def test_only_creates_with_a_known_identity_are_looked_up() -> None:
    creates = planned_creates(SHOWN)
    assert creates == [
        Create(
            "module.network.aws_vpc.this", "aws_vpc", {f"tag:{k}": v for k, v in VPC_TAGS.items()}
        ),
        Create("module.iam.aws_iam_role.worker", "aws_iam_role", {"name": "w"}),
    ]


def test_identity_needs_the_owners_tags_and_known_parents() -> None:
    assert identity("aws_subnet", {"tags_all": {**OWNER}}) is None  # no Name: too broad
    assert identity("aws_subnet", {"tags_all": {"Name": "x"}}) is None  # not visibly ours
    assert identity("aws_route", {"route_table_id": "rtb-1"}) is None  # destination unknown
    assert identity(
        "aws_route", {"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0"}
    ) == {"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0"}
    assert identity("aws_security_group", {"name": "sg", "vpc_id": None}) is None
    assert identity("aws_iam_role_policy", {"name": "p"}) is None


def test_what_the_state_records_is_found_in_nested_modules() -> None:
    assert owned_ids(SHOWN) == {"vpc-root", "o", "arn:aws:iam::1:o"}
    assert owned_ids({}) == set()


def test_one_match_each_is_adopted_and_other_environments_are_not_touched() -> None:
    creates = planned_creates(SHOWN)
    other_environment = tagged("vpc-other", {**VPC_TAGS, "Environment": "prod"})
    ours = tagged("vpc-ours", {**VPC_TAGS, "aws:cloudformation:x": "extra tags are fine"})
    role = Existing("aws_iam_role", "w", {"name": "w"}, "role w")
    chosen = match(creates, [other_environment, ours, role], owned=set())
    assert {address: each.id for address, each in chosen.items()} == {
        "module.network.aws_vpc.this": "vpc-ours",
        "module.iam.aws_iam_role.worker": "w",
    }


def test_nothing_in_aws_or_only_what_the_state_has_means_nothing_to_adopt() -> None:
    creates = planned_creates(SHOWN)
    assert match(creates, [], owned=set()) == {}
    assert match(creates, [tagged("vpc-root", VPC_TAGS)], owned={"vpc-root"}) == {}


def test_two_candidates_for_one_create_are_refused_naming_both() -> None:
    creates = planned_creates(SHOWN)
    twins = [tagged("vpc-1", VPC_TAGS), tagged("vpc-2", VPC_TAGS)]
    with pytest.raises(AmbiguousAdoption) as refused:
        match(creates, twins, owned=set())
    message = str(refused.value)
    assert "- module.network.aws_vpc.this matches vpc-1, vpc-2" in message
    assert "Nothing was changed. Delete the ones that should not exist" in message


def test_one_resource_matching_two_creates_is_refused() -> None:
    tags = {**OWNER, "Name": "same"}
    creates = [
        Create(f"aws_subnet.s[{i}]", "aws_subnet", {f"tag:{k}": v for k, v in tags.items()})
        for i in range(2)
    ]
    with pytest.raises(AmbiguousAdoption, match=r"subnet-1 matches each of aws_subnet.s\[0\], "):
        match(creates, [tagged("subnet-1", tags, "aws_subnet")], owned=set())


def test_import_blocks_quote_ids_and_keep_addresses() -> None:
    text = render_imports({'aws_subnet.s["a"]': "subnet-1", "aws_sqs_queue.q": "http://x/${y}"})
    assert 'import {\n  to = aws_subnet.s["a"]\n  id = "subnet-1"\n}\n' in text
    assert 'id = "http://x/$${y}"' in text


def test_the_stack_is_mirrored_with_its_imports_beside_it(tmp_path: Path) -> None:
    tree = tmp_path / "terraform"
    (tree / "modules" / "network").mkdir(parents=True)
    (tree / "stacks" / "platform").mkdir(parents=True)
    (tree / "stacks" / "platform" / "main.tf").write_text(
        'module "n" { source = "../../modules/network" }'
    )
    (tree / "stacks" / "platform" / ".terraform.lock.hcl").write_text("# lock")
    root = tmp_path / "work" / "adoption"
    config_with_imports(tree / "stacks" / "platform", root, {"a.b": "old"})
    mirror = config_with_imports(tree / "stacks" / "platform", root, {"a.b": "x"})
    assert mirror == root / "stacks" / "platform"
    assert (mirror / "main.tf").resolve() == (tree / "stacks" / "platform" / "main.tf")
    assert (mirror / ".terraform.lock.hcl").is_symlink()
    assert (mirror / "../../modules/network").resolve() == tree / "modules" / "network"
    assert 'id = "x"' in (mirror / IMPORTS_FILE).read_text()
    assert not (
        tree / "stacks" / "platform" / IMPORTS_FILE
    ).exists()  # the shared stack is untouched


def test_every_tagged_kind_is_confirmed_alive_before_it_is_adopted() -> None:
    # Tags outlive what they tag (a deleted NAT gateway's for an hour on AWS, every deleted
    # VPC's in the emulator): each kind found by its tags needs a describe call by id.
    from bootstrap_flows.terraform.adoption import TAGGED
    from bootstrap_flows.terraform.adoption_aws import _DESCRIBE

    assert set(_DESCRIBE) == set(TAGGED)
