"""This machine's Terraform provider mirror, found for the embedded default's processes.

Machines without registry access (CI, air-gapped laptops) keep providers in a filesystem mirror
at a path of their own. The product takes it only as a setting
(`BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR`): a path that only some machines have stays out of it.
The embedded default finds it here and hands it to every process it starts, so a `bootstrap`
worker started by `bootstrap-flows local up` by hand finds what the quick start found.
Terraform's own implicit mirror directories (`~/.terraform.d/plugins`,
`/usr/share/terraform/plugins`, ...) need nothing: with no mirror set, Terraform searches them
itself. `python -m bootstrap_local.provider_mirror` prints it (scripts/env.sh).
"""

from __future__ import annotations

from pathlib import Path

# Where the machines this project is built on keep their mirror (../shared/environment.md).
CANDIDATES = (Path("/opt/tf-plugins"),)
VARIABLE = "BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR"


def find(candidates: tuple[Path, ...] | None = None) -> Path | None:
    """The first candidate (default: CANDIDATES) that holds the hashicorp/aws provider."""
    for path in CANDIDATES if candidates is None else candidates:
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


def environment(given: Path | None, candidates: tuple[Path, ...] | None = None) -> dict[str, str]:
    """The setting for a child process: the mirror found when none is `given` (set wins)."""
    found = None if given is not None else find(candidates)
    return {VARIABLE: str(found)} if found else {}


if __name__ == "__main__":
    print(find() or "")
