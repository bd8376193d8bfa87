"""Promotion's pure parts: the code fingerprint and the record of a passed image.

The copy between registries, the record on a Prefect server and the refusals run in
tests/integration/test_environments.py and tests/integration/test_refused_inputs_live.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image.promote import (
    PassedImage,
    PromotionRefused,
    code_fingerprint,
    refused_architecture,
)

DIGEST = "sha256:" + "ab" * 32


def test_fingerprint_follows_the_terraform_code(
    settings: BootstrapSettings, tmp_path: Path
) -> None:
    terraform = tmp_path / "terraform"
    shutil.copytree(settings.terraform_dir / "modules" / "ecr", terraform / "modules" / "ecr")
    (terraform / "stacks").mkdir()
    here = settings.model_copy(update={"terraform_dir": terraform})
    first = code_fingerprint(here)
    assert code_fingerprint(here) == first  # stable
    (terraform / "modules" / "ecr" / "README.md").write_text("docs are not code\n")
    assert code_fingerprint(here) == first
    main = terraform / "modules" / "ecr" / "main.tf"
    main.write_text(main.read_text() + "\n# a change\n")
    assert code_fingerprint(here) != first


def test_fingerprint_does_not_depend_on_where_the_checkout_is(
    settings: BootstrapSettings, tmp_path: Path
) -> None:
    for name in ("one", "two"):
        shutil.copytree(settings.terraform_dir / "modules", tmp_path / name / "modules")
        (tmp_path / name / "stacks").mkdir()
    one, two = (
        code_fingerprint(settings.model_copy(update={"terraform_dir": tmp_path / name}))
        for name in ("one", "two")
    )
    assert one == two


def test_passed_image_names_its_registry_and_repository() -> None:
    passed = PassedImage.model_validate(
        {
            "environment": "staging",
            "uri": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/prefect-staging-worker@{DIGEST}",
            "tag": "0123456789abcdef0123",
            "digest": DIGEST,
            "region": "eu-west-1",
            "code": "c" * 20,
            "passed_at": "2025-01-01T00:00:00Z",
        }
    )
    assert passed.host == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert passed.repository == "prefect-staging-worker"


def test_an_image_of_another_architecture_is_not_promoted() -> None:
    passed = PassedImage.model_validate(
        {
            "environment": "staging",
            "uri": f"127.0.0.1:5000/prefect-staging-worker@{DIGEST}",
            "tag": "0123456789abcdef0123",
            "digest": DIGEST,
            "region": "us-east-1",
            "code": "c" * 20,
            "cpu_architecture": "ARM64",
            "passed_at": "2025-01-01T00:00:00Z",
        }
    )
    refused_architecture(passed, "ARM64")
    with pytest.raises(
        PromotionRefused, match="built for ARM64, this environment's tasks run X86_64"
    ):
        refused_architecture(passed, "X86_64")
