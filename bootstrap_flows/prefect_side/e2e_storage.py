"""The storage end-to-end check: a flow whose code comes from the code bucket and whose result
lands in the results bucket, as a user's flow deployed with push/pull steps would.

Bootstrap uploads `deployments/storage_e2e_flow.py` to the code bucket under a content-addressed
folder of its own (`bootstrap-e2e/`), deploys it with prefect-aws's `pull_from_s3` step (the
credentials block gives the region and, on an emulator, the endpoint; the task role gives
access), runs it on the pool, and reads the result the pool's defaults made it persist straight
from the results bucket. A result is only ever decoded as plain data: nothing in a bucket the
flow runs can write is executed here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
import time
from typing import Any

from botocore.exceptions import ClientError
from prefect.client.schemas.objects import FlowRun
from pydantic import BaseModel

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.environments import DEPLOYMENTS_DIR
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side import e2e
from bootstrap_flows.prefect_side.blocks import StorageBlocks
from bootstrap_flows.prefect_side.e2e import E2EFailed

FLOW_NAME = "e2e-storage"
DEPLOYMENT_NAME = "e2e-storage"
FLOW_FILE = DEPLOYMENTS_DIR / "storage_e2e_flow.py"
ENTRYPOINT = f"{FLOW_FILE.name}:e2e_storage"
# The code bucket's folder bootstrap writes to; teardown empties it (and nothing else there).
CODE_PREFIX = "bootstrap-e2e"
# The image's working directory belongs to root; its user can write here.
PULL_DIR = "/tmp"


class StorageResultMissing(BootstrapError):
    """The storage test flow completed but its result is not where the pool sends results."""


class StorageE2EResult(BaseModel):
    flow_run_id: str
    state: str
    seconds: float
    code_uri: str
    result_uri: str
    # What the run returned, as read back from the results bucket (its code digest is the
    # pushed file's: checked).
    result: dict[str, Any]


class _PlainValues(pickle.Unpickler):
    """Unpickles plain values only (str, numbers, lists, dicts...): a pickle naming any class
    or function is refused, so reading a result never runs code from the bucket."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: plain values only")


def decode_result(content: bytes, serializer: str) -> Any:
    """A persisted flow result's value. The object holds only what the serializer wrote: Prefect
    keeps a flow result's metadata, the serializer's type included, in the run's state."""
    if serializer == "json":
        return json.loads(content)
    if serializer == "pickle":
        return _PlainValues(io.BytesIO(base64.decodebytes(content))).load()
    raise ValueError(f"result serializer {serializer!r} is not read back here")


def result_location(flow_run: FlowRun, folder: str = "") -> tuple[str, str] | None:
    """(results bucket key, serializer type) of a run's persisted result; None when it
    persisted none."""
    data = flow_run.state.data if flow_run.state else None
    if isinstance(data, dict):
        key, serializer = data.get("storage_key"), (data.get("serializer") or {}).get("type")
    else:
        key = getattr(data, "storage_key", None)
        serializer = getattr(getattr(data, "serializer", None), "type", None)
    if not key:
        return None
    prefix = folder.strip("/")
    return (f"{prefix}/{key}" if prefix else str(key)), str(serializer)


def result_key(flow_run: FlowRun, folder: str = "") -> str | None:
    """The results bucket key of a run's persisted result (None when it persisted none)."""
    location = result_location(flow_run, folder)
    return location[0] if location else None


def push_flow_code(settings: BootstrapSettings, bucket: str) -> tuple[str, str]:
    """Upload the test flow to the code bucket (once per content); return its folder and
    digest."""
    source = FLOW_FILE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    folder = f"{CODE_PREFIX}/{digest[:16]}"
    key = f"{folder}/{FLOW_FILE.name}"
    s3 = aws.client(settings, "s3")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        s3.put_object(Bucket=bucket, Key=key, Body=source)
    return folder, digest


def read_result(settings: BootstrapSettings, bucket: str, key: str, serializer: str) -> Any:
    s3 = aws.client(settings, "s3")
    try:
        content = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise StorageResultMissing(
            f"the storage test flow's result is not in s3://{bucket}/{key} "
            f"({exc.response.get('Error', {}).get('Code')}): check the pool's env "
            "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK and the results block"
        ) from exc
    return decode_result(content, serializer)


def run_storage_e2e(
    settings: BootstrapSettings, image_uri: str, blocks: StorageBlocks
) -> StorageE2EResult:
    """Push the test flow's code, run it on the pool, read its result back from the bucket."""
    started = time.monotonic()
    folder, digest = push_flow_code(settings, blocks.code_bucket)
    credentials = "{{ prefect.blocks." + blocks.credentials.replace("/", ".") + " }}"
    deployment_id = e2e.create_deployment(
        settings,
        FLOW_NAME,
        image_uri,
        name=DEPLOYMENT_NAME,
        entrypoint=ENTRYPOINT,
        pull_steps=[
            {"prefect.deployments.steps.set_working_directory": {"directory": PULL_DIR}},
            {
                "prefect_aws.deployments.steps.pull_from_s3": {
                    "bucket": blocks.code_bucket,
                    "folder": folder,
                    "credentials": credentials,
                }
            },
        ],
        description="bootstrap-flows end-to-end check of the code and results buckets",
    )
    flow_run = e2e.run_to_completion(settings, deployment_id, "storage test flow")
    location = result_location(flow_run, blocks.results_folder)
    if location is None:
        raise StorageResultMissing(
            f"the storage test flow run {flow_run.id} completed without a persisted result: "
            "check the pool's env PREFECT_RESULTS_PERSIST_BY_DEFAULT"
        )
    key, serializer = location
    result = read_result(settings, blocks.results_bucket, key, serializer)
    returned = result if isinstance(result, dict) else {"value": result}
    if returned.get("code_sha256") != digest:
        raise E2EFailed(
            f"the storage test flow run {flow_run.id} ran code other than what was pushed to "
            f"s3://{blocks.code_bucket}/{folder} (it ran {returned.get('code_path')!r}): check "
            "the deployment's pull steps"
        )
    return StorageE2EResult(
        flow_run_id=str(flow_run.id),
        state=(flow_run.state.name if flow_run.state else None) or "Completed",
        seconds=round(time.monotonic() - started, 1),
        code_uri=f"s3://{blocks.code_bucket}/{folder}/{FLOW_FILE.name}",
        result_uri=f"s3://{blocks.results_bucket}/{key}",
        result=returned,
    )
