"""A major-only RDS engine version is reported as a full version, as AWS does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.rds.models import RDSBackend

from bootstrap_local import aws_like
from bootstrap_local.aws_like.limits import stock


@pytest.fixture
def rds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the original comes back afterwards)."""
    monkeypatch.setattr(RDSBackend, "create_db_instance", stock(RDSBackend, "create_db_instance"))
    with mock_aws():
        yield boto3.client("rds", region_name="us-east-1")


def engine_version(rds: Any, requested: str, engine: str = "postgres") -> str:
    rds.create_db_instance(
        DBInstanceIdentifier=f"db-{engine}-{requested.replace('.', '-')}",
        Engine=engine,
        EngineVersion=requested,
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="prefect",
        ManageMasterUserPassword=True,
    )
    [db] = rds.describe_db_instances(
        DBInstanceIdentifier=f"db-{engine}-{requested.replace('.', '-')}"
    )["DBInstances"]
    version: str = db["EngineVersion"]
    return version


def test_stock_moto_reports_a_major_only_version_verbatim(rds: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop the patch."""
    assert engine_version(rds, "16") == "16"


def test_a_major_only_version_resolves_to_a_minor_as_on_aws(rds: Any) -> None:
    aws_like.engine_versions_like_aws()
    aws_like.engine_versions_like_aws()  # a second patch must not wrap the first
    assert engine_version(rds, "16") == "16.8"
    assert engine_version(rds, "16.4") == "16.4"  # a full version is kept as given
