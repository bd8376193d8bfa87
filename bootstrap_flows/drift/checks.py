"""What Terraform cannot see: the work pool, the running worker and the image it runs."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import Worker
from prefect.exceptions import ObjectNotFound

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.drift.diff import diff_values, show
from bootstrap_flows.drift.findings import WHOLE, Finding, Kind
from bootstrap_flows.prefect_side import target_prefect, work_pool
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.worker_stack import WorkerOutputs

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

# A worker heartbeats every `heartbeat_interval_seconds` (30 by default); this many missed
# beats in a row count as offline, the same allowance Prefect's own worker status uses.
DEFAULT_MISSED_HEARTBEATS = 3
DEFAULT_HEARTBEAT_INTERVAL = 30
# A service that is converging (a task starting or draining) is not drift: wait this long for
# runningCount to reach desiredCount before reporting it.
SERVICE_SETTLE_SECONDS = 60.0


# --- the work pool -----------------------------------------------------------------------------


@task(name="work pool", cache_policy=NO_CACHE)
def check_work_pool(
    settings: BootstrapSettings, platform: PlatformOutputs, image_uri: str
) -> list[Finding]:
    """The pool exists, is an ECS pool, is not paused, and holds the defaults bootstrap owns."""
    resource = f"work_pool.{settings.work_pool_name}"

    def finding(attribute: str, expected: str, actual: str, action: str = "changed") -> Finding:
        return _finding("prefect", resource, attribute, expected, actual, action)

    with target_prefect.client(settings) as client:
        try:
            pool = client.read_work_pool(settings.work_pool_name)
        except ObjectNotFound:
            return [finding(WHOLE, "exists", "missing", "deleted")]
    if pool.type != work_pool.POOL_TYPE:
        return [finding("type", work_pool.POOL_TYPE, str(pool.type))]
    findings = []
    if pool.is_paused:
        findings.append(finding("is_paused", "false", "true", "paused"))
    owned = work_pool.owned_defaults(settings, platform, image_uri)
    properties = (pool.base_job_template or {}).get("variables", {}).get("properties", {})
    for name, value in owned.items():
        schema = properties.get(name)
        if not isinstance(schema, dict) or "default" not in schema:
            findings.append(finding(name, show(value), "(no default)", "removed"))
            continue
        findings += [
            finding(path, was, now)
            for path, was, now in diff_values(value, schema["default"], name)
        ]
    return findings


# --- the worker --------------------------------------------------------------------------------


def _finding(
    kind: Kind, resource: str, attribute: str, expected: str, actual: str, action: str
) -> Finding:
    return Finding(
        kind=kind,
        resource=resource,
        attribute=attribute,
        action=action,
        expected=expected,
        actual=actual,
    )


def _worker_finding(
    resource: str, attribute: str, expected: str, actual: str, action: str
) -> Finding:
    return _finding("worker", resource, attribute, expected, actual, action)


def _describe_service(settings: BootstrapSettings, cluster: str, service: str) -> dict[str, Any]:
    ecs = aws.client(settings, "ecs")
    described = ecs.describe_services(cluster=cluster, services=[service])
    services = [s for s in described.get("services", []) if s.get("status") != "INACTIVE"]
    return dict(services[0]) if services else {}


def _settled_service(settings: BootstrapSettings, cluster: str, name: str) -> dict[str, Any]:
    """The service ({} if gone) once its tasks converged, or as it is after the settle time."""
    service = _describe_service(settings, cluster, name)
    deadline = time.monotonic() + SERVICE_SETTLE_SECONDS
    while service and service["runningCount"] != service["desiredCount"]:
        if time.monotonic() >= deadline:
            break
        time.sleep(3)
        service = _describe_service(settings, cluster, name)
    return service


def service_findings(
    service: dict[str, Any], resource: str, worker_count: int | None
) -> list[Finding]:
    """The ECS service exists and runs `worker_count` tasks (None: autoscaling owns the count)."""
    if not service:
        return [_worker_finding(resource, WHOLE, "ACTIVE", "missing", "deleted")]
    findings = []
    desired, running = service["desiredCount"], service["runningCount"]
    if worker_count is not None and desired != worker_count:
        findings.append(
            _worker_finding(resource, "desiredCount", str(worker_count), str(desired), "changed")
        )
    if running != desired:
        findings.append(
            _worker_finding(resource, "runningCount", str(desired), str(running), "not running")
        )
    return findings


def heartbeat_findings(
    workers: list[Worker], pool_name: str, max_age: int | None, now: datetime
) -> list[Finding]:
    """A worker of the pool heartbeat within `max_age` seconds (None: its missed-beat allowance)."""
    fresh = [
        w
        for w in workers
        if w.last_heartbeat_time is not None
        and (now - w.last_heartbeat_time).total_seconds()
        <= (
            max_age
            or DEFAULT_MISSED_HEARTBEATS
            * (w.heartbeat_interval_seconds or DEFAULT_HEARTBEAT_INTERVAL)
        )
    ]
    if fresh:
        return []
    beats = [w.last_heartbeat_time for w in workers if w.last_heartbeat_time]
    # The last heartbeat's time (not its age) keeps the finding identical run after run.
    last = f"last heartbeat {max(beats).isoformat(timespec='seconds')}" if beats else "none"
    limit = f"{max_age} s" if max_age else f"{DEFAULT_MISSED_HEARTBEATS} heartbeat intervals"
    return [
        _worker_finding(
            f"workers.{pool_name}", "last_heartbeat", f"within {limit}", last, "offline"
        )
    ]


@task(name="worker", cache_policy=NO_CACHE)
def check_worker(
    settings: BootstrapSettings,
    platform: PlatformOutputs,
    worker: WorkerOutputs,
    autoscaling: bool,
) -> list[Finding]:
    """A worker of the pool heartbeats; the ECS service runs the tasks it should."""
    service = _settled_service(settings, platform.cluster_arn, worker.service_name)
    findings = service_findings(
        service,
        f"ecs_service.{worker.service_name}",
        None if autoscaling else settings.worker_count,
    )
    with target_prefect.client(settings) as client:
        workers = client.read_workers_for_work_pool(settings.work_pool_name)
    return findings + heartbeat_findings(
        workers, settings.work_pool_name, settings.drift_heartbeat_max_age, datetime.now(UTC)
    )


# --- the image ---------------------------------------------------------------------------------


def split_image(uri: str) -> tuple[str, ImageIdentifierTypeDef]:
    """(repository name, ECR image id) of `host/repo@sha256:...` or `host/repo:tag`."""
    path = uri.split("/", 1)[1] if "/" in uri else uri
    if "@" in path:
        repository, digest = path.split("@", 1)
        return repository, {"imageDigest": digest}
    repository, colon, tag = path.rpartition(":")
    return (repository, {"imageTag": tag}) if colon else (path, {"imageTag": "latest"})


@task(name="image", cache_policy=NO_CACHE)
def check_image(
    settings: BootstrapSettings, platform: PlatformOutputs, worker: WorkerOutputs
) -> list[Finding]:
    """The image the worker stack and the pool point to is still in ECR, by digest."""
    uris = [worker.image_uri]
    with target_prefect.client(settings) as client, contextlib.suppress(ObjectNotFound):
        pool = client.read_work_pool(settings.work_pool_name)
        properties = (pool.base_job_template or {}).get("variables", {}).get("properties", {})
        pool_image = (properties.get("image") or {}).get("default")
        if isinstance(pool_image, str) and pool_image not in uris:
            uris.append(pool_image)
    ecr = aws.client(settings, "ecr")
    findings = []
    for uri in uris:
        repository, image_id = split_image(uri)
        if repository != platform.ecr_repository_name:
            continue  # not ours: the pool check reports an image default changed by hand
        wanted = image_id.get("imageDigest") or image_id.get("imageTag", "")
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[image_id])
            continue
        except ecr.exceptions.RepositoryNotFoundException:
            actual, action = "repository deleted", "deleted"
        except ecr.exceptions.ImageNotFoundException:
            actual, action = "image deleted", "deleted"
        findings.append(
            Finding(
                kind="image",
                resource=f"ecr_image.{repository}",
                attribute="imageDigest" if "imageDigest" in image_id else "imageTag",
                action=action,
                expected=wanted,
                actual=actual,
            )
        )
    return findings
