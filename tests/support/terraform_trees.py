"""A stack or example of infrastructure/terraform applied on a moto of the test's own: a copy of
the tree (so local state stays out of the checkout), a runner with moto's keys, and a boto3
session with the same keys to look at what was made."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import boto3

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_flows.terraform.runner import Terraform

TERRAFORM_ROOT = PROJECT_ROOT / "infrastructure" / "terraform"
MOTO_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"


def copied_tree(tmp_path: Path) -> Path:
    """infrastructure/terraform copied to tmp_path, without any `.terraform*` of the checkout."""
    tree = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_ROOT, tree, ignore=shutil.ignore_patterns(".terraform*"))
    return tree


def terraform_on_moto(endpoint: str, stack_dir: Path, work_dir: Path) -> Terraform:
    """A runner of `stack_dir` against the moto at `endpoint`, with the machine's provider mirror.
    Two attempts a call: a moto gap fails fast instead of retrying for minutes."""
    mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
    return Terraform(
        stack_dir=stack_dir,
        work_dir=work_dir,
        env={"AWS_ENDPOINT_URL": endpoint, **MOTO_KEYS, "AWS_MAX_ATTEMPTS": "2"},
        provider_mirror=Path(mirror) if mirror else None,
    )


def moto_session(key: str = MOTO_KEYS["AWS_ACCESS_KEY_ID"]) -> boto3.session.Session:
    """A boto3 session with moto's keys (or another access key, e.g. one whose calls a
    recording leaves out) in the region the tests apply in."""
    return boto3.session.Session(
        aws_access_key_id=key,
        aws_secret_access_key=MOTO_KEYS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
