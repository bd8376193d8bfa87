"""What a teardown would have to delete that is not bootstrap's: then it refuses, unchanged.

The drain deletes exactly what bootstrap wrote: its test flow's code and its test runs' results
in the storage buckets, and the images it pushed to ECR. Anything else there is someone's flow
code, results or images; teardown never deletes it, and S3 (`BucketNotEmpty`) and ECR
(`RepositoryNotEmptyException`) refuse to delete a bucket or repository that still holds any.
Found before anything changes, such a teardown is refused whole, instead of stopping at the
platform's destroy with the worker already gone and the pool drained.
"""

from __future__ import annotations

from collections.abc import Callable

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.cleanup import drain
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.prefect_side import target_prefect
from bootstrap_flows.prefect_side.e2e_storage import CODE_PREFIX
from bootstrap_flows.safety.refusal import PreflightError
from bootstrap_flows.terraform.platform_stack import PlatformOutputs

# How many of them the refusal names.
SHOWN = 5


def _bucket_others(
    settings: BootstrapSettings, bucket: str | None, ours: Callable[[str], bool]
) -> list[str]:
    """Keys in `bucket` with a version or delete marker that `ours` does not claim."""
    if not bucket:
        return []
    found = {
        v["Key"]
        for page in aws.object_versions(settings, bucket)
        for v in page
        if not ours(v["Key"])
    }
    return [f"s3://{bucket}/{key}" for key in sorted(found)]


def _result_keys(settings: BootstrapSettings) -> set[str]:
    """Bootstrap's test runs' results, as the drain finds them (none if Prefect cannot say)."""
    if target_prefect.unknown(settings) is not None:
        return set()
    try:
        return set(drain.e2e_result_keys(settings))
    except drain.PREFECT_ERRORS:
        return set()


def others(settings: BootstrapSettings, platform: PlatformOutputs) -> list[str]:
    """Objects and images the drain would leave in the platform's buckets and repository."""
    results = _result_keys(settings)
    images = drain.repository_images(settings, platform.ecr_repository_name)
    return [
        *_bucket_others(settings, platform.code_bucket_name, lambda k: k.startswith(CODE_PREFIX)),
        *_bucket_others(settings, platform.results_bucket_name, lambda k: k in results),
        *(
            f"{platform.ecr_repository_name}@{image['imageDigest']}"
            + (f" ({', '.join(image['imageTags'])})" if image.get("imageTags") else "")
            for image in images
            if not drain.pushed_by_bootstrap(image)
        ),
    ]


def refuse_others(settings: BootstrapSettings, platform: PlatformOutputs) -> None:
    """Refuse a teardown whose platform destroy would stop at what is not bootstrap's."""
    found = others(settings, platform)
    if not found:
        return
    named = ", ".join(found[:SHOWN]) + (
        f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    )
    raise PreflightError(
        f"Teardown refused, nothing changed: the platform's buckets and ECR repository hold "
        f"{len(found)} objects or images that bootstrap did not write ({named}). They are your "
        "flows' code, results or images: teardown never deletes them, and S3 and ECR delete no "
        "bucket or repository that still holds any, so the destroy would stop part-way. Copy "
        "what you need, delete them (every version: `aws s3api list-object-versions` and "
        "`delete-objects`; `aws ecr batch-delete-image`), and run teardown again."
    )
