"""AWS's own limits on the values settings accept: one copy, shared with the Terraform checks.

The Terraform `validation` blocks repeat these lists (HCL cannot import Python); a unit test
evaluates those blocks with Terraform itself and asserts they accept exactly what these do.
"""

from __future__ import annotations

import re

# Fargate's allowed CPU units and, for each, the allowed memory sizes in MiB.
FARGATE_MEMORY: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}

# The retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
    2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# Fargate's CPU architectures (RuntimePlatform.cpuArchitecture): Intel/AMD, or Graviton.
CPU_ARCHITECTURES = ("X86_64", "ARM64")
# ... and Docker's GOARCH for each (what `docker image inspect` calls Architecture).
DOCKER_ARCHITECTURE = {"X86_64": "amd64", "ARM64": "arm64"}

# An AWS region name: us-east-1, us-gov-west-1, us-isob-east-1, ...
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$"
REGION = re.compile(REGION_PATTERN)
