"""Where each Terraform root stack lives, how it is configured, and its backend per environment."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.terraform import adoption
from bootstrap_flows.terraform.adoption_aws import AwsLookup
from bootstrap_flows.terraform.lock_holder import StateLockKeeper
from bootstrap_flows.terraform.runner import Adopt, Terraform


def common_variables(settings: BootstrapSettings) -> dict[str, Any]:
    """The variables every stack takes: what it is part of and where."""
    return {
        "environment": settings.environment,
        "region": settings.aws_region,
        "name_prefix": settings.name_prefix,
    }


def state_key(settings: BootstrapSettings, stack: str) -> str:
    """One state object per stack per environment."""
    return f"{stack}/{settings.environment}.tfstate"


def backend_config(settings: BootstrapSettings, bucket: str, stack: str) -> dict[str, str]:
    config = {
        "bucket": bucket,
        "key": state_key(settings, stack),
        "region": settings.aws_region,
        "encrypt": "true",
        # S3-native locking: a second apply of the same stack and environment waits or fails.
        "use_lockfile": "true",
    }
    endpoint = resolve(settings).endpoint_url
    if endpoint:
        config |= {
            "endpoints": f'{{s3="{endpoint}",sts="{endpoint}"}}',
            "use_path_style": "true",
            "skip_credentials_validation": "true",
            "skip_requesting_account_id": "true",
            "skip_metadata_api_check": "true",
            "skip_region_validation": "true",
        }
    return config


def stack_terraform(
    settings: BootstrapSettings,
    stack: str,
    logger: logging.Logger | Any,
    work_dir: Path | None = None,
    bucket: str | None = None,
) -> Terraform:
    """The runner for one stack in this environment (its data dir survives between tasks).

    `work_dir` (data dir, var file, plan file) defaults to the one bootstrap and teardown share;
    a reader that takes no lock (the drift check) passes its own, so it never re-inits that data
    dir or overwrites its saved plan in the middle of an apply. With the state's `bucket`, the
    commands that take the state lock record who holds it, and a dead holder's lock is released
    (lock_holder.py).
    """
    keeper = (
        StateLockKeeper(settings, stack, bucket, state_key(settings, stack), logger)
        if bucket is not None
        else None
    )
    return Terraform(
        stack_dir=settings.terraform_dir / "stacks" / stack,
        work_dir=work_dir or settings.environment_dir / stack,
        env=aws.aws_environment(settings),
        provider_mirror=settings.terraform_provider_mirror,
        logger=logger,
        adopt=adopter(settings),
        lock_keeper=keeper,
    )


def adopter(settings: BootstrapSettings) -> Adopt:
    """Adoption (terraform/adoption.py) with lookups in this environment's AWS."""
    lookup = AwsLookup(settings)
    return lambda terraform, plan, replan: adoption.adopt(terraform, plan, replan, lookup)


def open_stack(
    settings: BootstrapSettings,
    stack: str,
    bucket: str,
    variables: dict[str, Any],
    logger: logging.Logger | Any,
    work_dir: Path | None = None,
) -> tuple[Terraform, Path]:
    """`terraform init` the stack against its state; write its variables; return both."""
    terraform = stack_terraform(settings, stack, logger, work_dir, bucket)
    terraform.init(backend_config(settings, bucket, stack))
    var_file = terraform.work_dir / "terraform.tfvars.json"
    var_file.write_text(json.dumps(variables, indent=2, sort_keys=True))
    return terraform, var_file


def read_state(settings: BootstrapSettings, stack: str, bucket: str) -> dict[str, Any]:
    """A stack's state as recorded ({} when it was never applied).

    Read straight from the state object: no init (seconds faster), and nothing is locked or
    written, so it is safe during an apply.
    """
    return _read_json(settings, bucket, state_key(settings, stack))  # {}: never applied here


def variables_key(settings: BootstrapSettings, stack: str) -> str:
    """Beside the stack's state: the variables it was last applied with."""
    return f"{stack}/{settings.environment}.tfvars.json"


def record_variables(
    settings: BootstrapSettings, stack: str, bucket: str, variables: dict[str, Any]
) -> None:
    """Keep the variables a whole apply used, so teardown can destroy with exactly those, from
    the environment's name alone (a server stack bootstrapped with flow parameters does not
    validate without them). None is secret: the credential is never a Terraform variable."""
    body = json.dumps(variables, indent=2, sort_keys=True)
    if recorded_variables(settings, stack, bucket) != json.loads(body):
        s3 = aws.client(settings, "s3")
        s3.put_object(Bucket=bucket, Key=variables_key(settings, stack), Body=body.encode())


def recorded_variables(settings: BootstrapSettings, stack: str, bucket: str) -> dict[str, Any]:
    """The variables the stack was last applied with ({} when none were recorded)."""
    return _read_json(settings, bucket, variables_key(settings, stack))


def _read_json(settings: BootstrapSettings, bucket: str, key: str) -> dict[str, Any]:
    """An object of the state bucket as JSON ({} when there is none)."""
    s3 = aws.client(settings, "s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        return {}
    read: dict[str, Any] = json.loads(body.read())
    return read


def read_outputs(settings: BootstrapSettings, stack: str, bucket: str) -> dict[str, Any]:
    """The outputs recorded in a stack's state ({} when it holds nothing): `terraform output`."""
    state = read_state(settings, stack, bucket)
    return {name: output.get("value") for name, output in (state.get("outputs") or {}).items()}


def managed_addresses(state: dict[str, Any]) -> list[str]:
    """The address of every managed resource in a state (instances folded: `a.b`, not `a.b[0]`)."""
    return [
        ".".join(
            part for part in (resource.get("module"), resource["type"], resource["name"]) if part
        )
        for resource in state.get("resources") or []
        if resource.get("mode") == "managed"
    ]
