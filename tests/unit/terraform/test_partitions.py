"""Every ARN the Terraform writes takes its partition from the provider (`aws_partition`), never
`arn:aws:`: in GovCloud (`aws-us-gov`) and China (`aws-cn`) such an ARN names nothing, and the
attachment or policy that holds it fails (or grants nothing) there."""

from __future__ import annotations

import re

from bootstrap_flows.config.settings import PROJECT_ROOT

TERRAFORM = PROJECT_ROOT / "infrastructure" / "terraform"
ONE_PARTITION = re.compile(r"arn:aws:")
# Words for people (an example ARN in a description or a validation's message), not ARNs used.
PROSE = re.compile(r"^\s*(#|//|description\s*=|error_message\s*=)")


def test_no_arn_is_written_for_one_partition() -> None:
    files = [
        path
        for pattern in ("*.tf", "*.tftpl")
        for path in TERRAFORM.rglob(pattern)
        if ".terraform" not in path.parts
    ]
    assert files
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ONE_PARTITION.search(line) and not PROSE.match(line)
    ]
    assert found == []
