"""What the numbers were measured on: the machine, its load, the versions."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return 0.0


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def terraform_versions(mirror: Path | None) -> dict[str, str]:
    shown = subprocess.run(
        ["terraform", "version", "-json"], capture_output=True, text=True, check=False
    )
    found: dict[str, str] = {}
    if shown.returncode == 0:
        found["terraform"] = json.loads(shown.stdout).get("terraform_version", "?")
    if mirror is not None:
        providers = sorted(mirror.glob("registry.terraform.io/hashicorp/aws/*"))
        found["provider hashicorp/aws"] = ", ".join(
            p.name for p in providers if re.match(r"\d", p.name)
        )
    return found


def other_load() -> list[str]:
    """Other heavy processes running now (other test runs on this machine)."""
    ps = subprocess.run(
        ["ps", "-eo", "pcpu,args", "--sort=-pcpu"], capture_output=True, text=True, check=False
    )
    busy = []
    for line in ps.stdout.splitlines()[1:]:
        cpu, _, args = line.strip().partition(" ")
        if float(cpu or 0) >= 5.0:
            busy.append(f"{cpu}% {args[:100]}")
    return busy[:10]


def describe(mirror: Path | None) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {
            **terraform_versions(mirror),
            **{name: _package(name) for name in ("prefect", "prefect-aws", "moto", "docker")},
        },
    }
