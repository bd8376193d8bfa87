"""The storage end-to-end test flow: code from the code bucket, result to the results bucket.

Bootstrap uploads this file to the environment's code bucket; the flow run's ECS task pulls it
from there (prefect-aws's `pull_from_s3` step) and runs it. The flow says nothing about results:
the pool's defaults persist its return value in the results bucket, where bootstrap reads it
back. It reports the digest of the file it runs from, so bootstrap can tell the pulled code ran.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run


@flow(name="e2e-storage")
def e2e_storage() -> dict[str, str]:
    source = Path(__file__)
    return {
        "flow_run_id": str(flow_run.get_id()),
        "code_path": str(source.resolve()),
        "code_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
    }
