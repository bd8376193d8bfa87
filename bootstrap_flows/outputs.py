"""`bootstrap-flows outputs <env>`: what a user needs from a finished bootstrap to deploy flows
of their own to its pool (examples/own-flow), read from where bootstrap recorded it.

Nothing is written: the bucket and repository names come from the platform stack's state in
the state bucket, the worker image from the pool's template on the target Prefect (what every
flow run on the pool runs in, so the image to build `FROM`). Printed as shell `export` lines,
named as the GitHub Actions example's repository variables where they are the same values
(AWS_REGION, ECR_REPOSITORY, WORKER_IMAGE, PREFECT_CODE_BUCKET), so
`eval "$(bootstrap-flows outputs dev)"` sets them for `docker build` and `prefect deploy`.

`--registry-password` prints only the password of ECR's authorization token, for
`| docker login --username AWS --password-stdin "$ECR_REGISTRY"` (as
`aws ecr get-login-password` does; on the embedded default the local registry takes it).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.image.push import push_repository, registry_destination
from bootstrap_flows.prefect_side import blocks, target_prefect
from bootstrap_flows.terraform import platform_stack, stacks


class OutputsError(BootstrapError):
    """The environment has nothing (or too little) to show: it was not bootstrapped."""


class FlowOutputs(BaseModel):
    """The values a user's `prefect.yaml`, `docker build` and `docker push` need."""

    environment: str
    aws_region: str
    work_pool: str
    credentials_block: str
    code_block: str
    results_block: str
    code_bucket: str
    results_bucket: str
    ecr_repository: str
    # Where `docker push` goes: ECR's registry, or the registry standing in for it.
    ecr_registry: str
    worker_image: str
    # Only when the platform has the optional CI role (settings ci_github_repository).
    ci_role_arn: str | None = None


def render(outputs: FlowOutputs) -> str:
    """The outputs as shell `export` lines (values quoted), the blocks as a comment."""
    exported = {
        "AWS_REGION": outputs.aws_region,
        "PREFECT_WORK_POOL": outputs.work_pool,
        "PREFECT_CODE_BUCKET": outputs.code_bucket,
        "PREFECT_RESULTS_BUCKET": outputs.results_bucket,
        "ECR_REGISTRY": outputs.ecr_registry,
        "ECR_REPOSITORY": outputs.ecr_repository,
        "WORKER_IMAGE": outputs.worker_image,
    }
    if outputs.ci_role_arn:
        exported["AWS_ROLE_ARN"] = outputs.ci_role_arn
    lines = [
        f"# {outputs.environment}: blocks {outputs.credentials_block}, {outputs.code_block}, "
        f"{outputs.results_block}",
        *(f"export {name}={shlex.quote(value)}" for name, value in exported.items()),
    ]
    return "\n".join(lines)


def _recorded_platform(settings: BootstrapSettings) -> dict[str, Any]:
    account = settings.aws_account_id or str(
        aws.client(settings, "sts").get_caller_identity()["Account"]
    )
    bucket = settings.state_bucket_name(account)
    try:
        recorded = stacks.read_outputs(settings, platform_stack.STACK, bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
        recorded = {}  # not even the state backend: never bootstrapped
    if not recorded.get("code_bucket_name") or not recorded.get("ecr_repository_url"):
        raise OutputsError(
            f"environment {settings.environment!r} has no platform with storage buckets "
            f"recorded in s3://{bucket}/{stacks.state_key(settings, platform_stack.STACK)}: "
            f"run bootstrap/{settings.environment} first"
        )
    return recorded


def _worker_image(settings: BootstrapSettings) -> str:
    url = worker_api_url(resolve(settings))
    try:
        with target_prefect.client(settings) as client:
            template = client.read_work_pool(settings.work_pool_name).base_job_template
    except ObjectNotFound:
        template = {}
    except httpx.HTTPError as exc:
        raise OutputsError(f"the Prefect API {url} does not answer: {exc}") from exc
    image = template.get("variables", {}).get("properties", {}).get("image", {}).get("default")
    if not image:
        raise OutputsError(
            f"the work pool {settings.work_pool_name!r} on {url} has no worker image: "
            f"run bootstrap/{settings.environment} first"
        )
    return str(image)


def read_outputs(settings: BootstrapSettings) -> FlowOutputs:
    """The environment's values, read from its platform state and its pool (read-only)."""
    recorded = _recorded_platform(settings)
    credentials, code, results = blocks.block_names(settings)
    repository = str(recorded["ecr_repository_name"])
    pushed_to = push_repository(settings, repository, str(recorded["ecr_repository_url"]))
    return FlowOutputs(
        environment=settings.environment,
        aws_region=str(recorded.get("region") or settings.aws_region),
        work_pool=settings.work_pool_name,
        credentials_block=f"{blocks.CREDENTIALS_TYPE}/{credentials}",
        code_block=f"{blocks.BUCKET_TYPE}/{code}",
        results_block=f"{blocks.BUCKET_TYPE}/{results}",
        code_bucket=str(recorded["code_bucket_name"]),
        results_bucket=str(recorded["results_bucket_name"]),
        ecr_repository=repository,
        ecr_registry=pushed_to.split("/", 1)[0],
        worker_image=_worker_image(settings),
        ci_role_arn=recorded.get("ci_role_arn") or None,
    )


def registry_password(settings: BootstrapSettings) -> str:
    """The password of ECR's authorization token (12 hours), for `docker login`."""
    recorded = _recorded_platform(settings)
    repository, url = str(recorded["ecr_repository_name"]), str(recorded["ecr_repository_url"])
    return registry_destination(settings, repository, url).password


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("environment", help="the bootstrapped environment, e.g. local or dev")
    parser.add_argument(
        "--registry-password",
        action="store_true",
        help="print only the registry password, for docker login --password-stdin",
    )


def run(args: argparse.Namespace) -> int:
    """Print the outputs (or the registry password); 1 with one line on stderr if it cannot."""
    try:
        settings = load_settings(environment=args.environment)
        if args.registry_password:
            print(registry_password(settings))
        else:
            print(render(read_outputs(settings)))
    except BootstrapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:
        print(
            f"error: AWS refused or did not answer ({type(exc).__name__}): {exc}", file=sys.stderr
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bootstrap-flows outputs", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
