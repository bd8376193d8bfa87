"""The Prefect blocks a user points flows at: where their code and their results live.

Made on the target Prefect (the one the worker and its flow runs talk to), from the platform
stack's buckets:

- `aws-credentials/<prefix>-<env>`: the region, and where AWS answers. No keys, on any target:
  a flow run's ECS task gets its role's credentials from ECS (the flow-run task role may read
  the code bucket and read and write the results bucket), and a machine that deploys uses its
  own. An emulator target's endpoint is the one field that differs.
- `s3-bucket/<prefix>-<env>-code`: the code bucket (`flow.from_source`, `pull_with_block`).
- `s3-bucket/<prefix>-<env>-results`: the results bucket; the pool's runs persist results
  there by default (`result_env`).

Bootstrap owns those fields only: a user's edit of any other field (a bucket folder, client
options, a profile) survives every re-run, and a block that would not change is not written.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from prefect.blocks.core import Block
from prefect.client.orchestration import PrefectClient
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from pydantic import BaseModel

from bootstrap_flows.config.names import stack_prefix
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side import target_prefect
from bootstrap_flows.terraform.platform_stack import PlatformOutputs

B = TypeVar("B", bound=Block)
BlockChange = Literal["created", "updated", "unchanged"]
CREDENTIALS_TYPE = AwsCredentials.get_block_type_slug()
BUCKET_TYPE = S3Bucket.get_block_type_slug()
# Prefect 3's settings for results: persist every run's return value, in this block.
PERSIST_BY_DEFAULT = "PREFECT_RESULTS_PERSIST_BY_DEFAULT"
DEFAULT_STORAGE_BLOCK = "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"


class StorageBlocksError(BootstrapError):
    """The storage blocks cannot be made (e.g. the platform state predates the buckets)."""


class StorageBlocks(BaseModel):
    """The three blocks by slug (`<type>/<name>`), the buckets they name, and what changed."""

    credentials: str
    code: str
    results: str
    code_bucket: str
    results_bucket: str
    # The results block's folder in its bucket (a user may set one): result keys live under it.
    results_folder: str = ""
    changes: dict[str, BlockChange] = {}


def block_names(settings: BootstrapSettings) -> tuple[str, str, str]:
    """Names of the credentials, code and results blocks: the stack's name, as AWS names go."""
    stack = stack_prefix(settings.name_prefix, settings.environment)
    return settings.stack_name, f"{stack}code", f"{stack}results"


def updated_credentials(
    current: AwsCredentials | None, region: str, endpoint_url: str | None
) -> AwsCredentials | None:
    """The credentials block with bootstrap's fields (region, endpoint) applied; None when
    `current` has them already. Keys, a profile and other client options stay as they are."""
    if current is None:
        parameters = AwsClientParameters(endpoint_url=endpoint_url)
        return AwsCredentials(region_name=region, aws_client_parameters=parameters)
    owned = current.aws_client_parameters
    if current.region_name == region and owned.endpoint_url == endpoint_url:
        return None
    parameters = owned.model_copy(update={"endpoint_url": endpoint_url})
    return current.model_copy(update={"region_name": region, "aws_client_parameters": parameters})


def updated_bucket(
    current: S3Bucket | None, bucket_name: str, credentials: AwsCredentials
) -> S3Bucket | None:
    """A bucket block naming `bucket_name` and the saved `credentials` block; None when
    `current` does already. Its folder and other fields stay as they are."""
    if current is None:
        return S3Bucket(bucket_name=bucket_name, credentials=credentials)
    # A saved block is stored as a reference to it: same document, same credentials.
    same = current.credentials._block_document_id == credentials._block_document_id
    if current.bucket_name == bucket_name and same:
        return None
    return current.model_copy(update={"bucket_name": bucket_name, "credentials": credentials})


def result_env(blocks: StorageBlocks) -> dict[str, str]:
    """The pool's env defaults that make every flow run persist its result in the results
    bucket, with nothing in the flow's code or deployment."""
    return {PERSIST_BY_DEFAULT: "true", DEFAULT_STORAGE_BLOCK: blocks.results}


async def _load(client: PrefectClient, kind: type[B], name: str) -> B | None:
    try:
        return await kind.aload(name, client=client)
    except ValueError:  # Prefect's "Unable to find block document named ..."
        return None


async def _save(
    client: PrefectClient, kind: type[B], name: str, current: B | None, block: B | None
) -> tuple[BlockChange, B]:
    """Write `block` (if it changed anything) and return it as saved, with its document id."""
    if block is None:
        assert current is not None  # nothing to change means there is a saved block
        return "unchanged", current
    await block.asave(name, overwrite=True, client=client)
    saved = await kind.aload(name, client=client)
    return ("created" if current is None else "updated"), saved


async def _ensure(settings: BootstrapSettings, platform: PlatformOutputs) -> StorageBlocks:
    code_bucket, results_bucket = platform.code_bucket_name, platform.results_bucket_name
    if code_bucket is None or results_bucket is None:
        raise StorageBlocksError(
            "the platform stack's outputs name no code or results bucket; apply the platform "
            "stack (run bootstrap) before making the storage blocks"
        )
    names = block_names(settings)
    endpoint = resolve(settings).endpoint_url
    changes: dict[str, BlockChange] = {}
    async with target_prefect.async_client(settings) as client:
        current = await _load(client, AwsCredentials, names[0])
        wanted = updated_credentials(current, settings.aws_region, endpoint)
        change, credentials = await _save(client, AwsCredentials, names[0], current, wanted)
        changes[f"{CREDENTIALS_TYPE}/{names[0]}"] = change
        saved: list[S3Bucket] = []
        for name, bucket in zip(names[1:], (code_bucket, results_bucket), strict=True):
            existing = await _load(client, S3Bucket, name)
            block = updated_bucket(existing, bucket, credentials)
            change, kept = await _save(client, S3Bucket, name, existing, block)
            changes[f"{BUCKET_TYPE}/{name}"] = change
            saved.append(kept)
    return StorageBlocks(
        credentials=f"{CREDENTIALS_TYPE}/{names[0]}",
        code=f"{BUCKET_TYPE}/{names[1]}",
        results=f"{BUCKET_TYPE}/{names[2]}",
        code_bucket=code_bucket,
        results_bucket=results_bucket,
        results_folder=saved[1].bucket_folder,
        changes=changes,
    )


def ensure_storage_blocks(settings: BootstrapSettings, platform: PlatformOutputs) -> StorageBlocks:
    """Create the three blocks on the target Prefect, or update only bootstrap's fields."""
    blocks: StorageBlocks = run_coro_as_sync(_ensure(settings, platform))
    return blocks
