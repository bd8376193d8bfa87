"""Which leftovers of a teardown were kept on purpose, and which images bootstrap pushed."""

from __future__ import annotations

from bootstrap_flows.drain import PUSHED_TAG
from bootstrap_flows.receipt import ANYTHING_ELSE, Leftover, why_kept

BUCKET = "arn:aws:s3:::prefect-dev-tfstate-123456789012"
DB = "arn:aws:rds:us-east-1:123456789012:db:prefect-dev-server"


def test_a_leftover_is_kept_by_arn_name_or_identifier() -> None:
    kept = {BUCKET: "kept: state", "prefect-dev-server": "kept: database"}
    assert why_kept(Leftover(service="s3", resource=BUCKET), kept) == "kept: state"
    assert why_kept(Leftover(service="rds", resource=DB), kept) == "kept: database"
    vpc = Leftover(service="ec2", resource="arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1")
    assert why_kept(vpc, kept) is None
    assert why_kept(vpc, kept | {ANYTHING_ELSE: "kept: platform"}) == "kept: platform"


def test_a_name_is_matched_whole() -> None:
    kept = {"prefect-dev-server": "kept"}
    other = Leftover(service="rds", resource=f"{DB}-replica")
    assert why_kept(other, kept) is None


def test_only_content_tags_count_as_bootstraps_images() -> None:
    assert PUSHED_TAG.match("a1db50a35aa251d5d6ea")
    assert not PUSHED_TAG.match("latest")
    assert not PUSHED_TAG.match("a1db50a35aa251d5d6ea-mine")
