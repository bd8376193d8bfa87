"""The `drift-check` flow: run every check, bookkeep, publish, end in the state that says it.

Checks are read-only and take no Terraform state lock and no environment lock; a file lock keeps
two drift checks of one environment on this machine apart (they share data dirs and
bookkeeping). A bootstrap or teardown running during the check makes its results untrusted: the
run ends Completed "Skipped". With `remediate`, drift is handed to `bootstrap` and re-checked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.drift.bookkeeping import record
from bootstrap_flows.drift.checks import check_image, check_work_pool, check_worker
from bootstrap_flows.drift.findings import (
    WHOLE,
    DriftReport,
    Finding,
    in_report_order,
    status_of,
)
from bootstrap_flows.drift.plans import (
    RecordedOutputs,
    StackFindings,
    drift_dir,
    recorded_outputs,
    terraform_check,
    without_drift_echoes,
)
from bootstrap_flows.drift.report import final_state, publish
from bootstrap_flows.drift.rules import ignore_patterns, without_ignored
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.outcomes import failing_on_rate_limits
from bootstrap_flows.flows.stages import preflight
from bootstrap_flows.prefect_side import work_pool
from bootstrap_flows.prefect_side.rate_limit import rate_limited
from bootstrap_flows.safety.locks import file_lock
from bootstrap_flows.terraform import platform_stack, server_stack, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs


@contextlib.contextmanager
def _check_lock(settings: BootstrapSettings) -> Iterator[None]:
    """One drift check per environment on this machine: they share data dirs and bookkeeping."""
    with file_lock(drift_dir(settings) / ".lock"):
        yield


def _bootstrap_running(settings: BootstrapSettings) -> bool:
    """Is a bootstrap or teardown of this environment holding its lock right now?"""
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(
                f"bootstrap-{settings.environment}"
            )
        except ObjectNotFound:
            return False
    return bool(limit.active_slots)


@dataclass
class _Pass:
    findings: list[Finding] = field(default_factory=list)
    ignored: int = 0
    errors: list[str] = field(default_factory=list)


def _one_line(exc: BaseException) -> str:
    limited = rate_limited(exc)
    if limited is not None:  # its own line says which API, and what to do
        return str(limited)
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _never_applied(stack: str) -> Finding:
    return Finding(
        kind="pending",
        resource=f"stack.{stack}",
        attribute=WHOLE,
        action="create",
        expected="applied",
        actual="no outputs in its state: run bootstrap",
        stack=stack,
    )


def assemble(
    preliminary: list[Finding], found: dict[str, list[Finding]], patterns: list[str]
) -> tuple[list[Finding], int]:
    """(every check's findings in report order, how many the ignore list dropped).

    `found` is keyed by check name: `drift <stack>`, `pending <stack>`, or any other check.
    A pending change that only undoes drift is dropped: the drift finding says it.
    """
    drift = [f for name, fs in found.items() if name.startswith("drift ") for f in fs]
    pending = [f for name, fs in found.items() if name.startswith("pending ") for f in fs]
    others = [
        f for name, fs in found.items() if not name.startswith(("drift ", "pending ")) for f in fs
    ]
    candidates = [*preliminary, *drift, *without_drift_echoes(pending, drift), *others]
    kept, ignored = without_ignored(candidates, patterns)
    return in_report_order(kept), ignored


Futures = dict[str, PrefectFuture[list[Finding]] | PrefectFuture[StackFindings]]


def _submit_checks(
    settings: BootstrapSettings, bucket: str, platform: PlatformOutputs, recorded: RecordedOutputs
) -> tuple[Futures, dict[str, Any] | None]:
    """Start every check the stacks' recorded outputs allow, in parallel.

    Returns the futures by check name and the worker stack's variables (None: never applied).
    """
    futures: Futures = {}
    worker, server = recorded.worker, recorded.server

    def check_stack(stack: str, variables: dict[str, Any]) -> None:
        futures[f"terraform {stack}"] = terraform_check.submit(settings, stack, bucket, variables)

    check_stack(platform_stack.STACK, platform_stack.platform_variables(settings))
    if server is not None:
        variables = server_stack.server_variables(settings, platform, server.image_uri)
        check_stack(server_stack.STACK, variables)
    if worker is None:
        return futures, None
    worker_vars = worker_stack.worker_variables(settings, platform, worker.image_uri)
    check_stack(worker_stack.STACK, worker_vars)
    futures["work pool"] = check_work_pool.submit(settings, platform, worker.image_uri)
    futures["worker"] = check_worker.submit(
        settings, platform, worker, bool(worker_vars["enable_autoscaling"])
    )
    futures["image"] = check_image.submit(settings, platform, worker)
    return futures, worker_vars


def _run_checks(settings: BootstrapSettings, bucket: str) -> _Pass:
    result = _Pass()
    try:
        recorded = recorded_outputs(settings, bucket)
    except Exception as exc:  # credentials, network: the whole check cannot run
        result.errors.append(f"reading stack state: {_one_line(exc)}")
        return result
    if recorded.platform is None:
        result.findings.append(_never_applied(platform_stack.STACK))
        return result
    if server_stack.uses_server_stack(settings):
        if recorded.server is None:
            result.findings.append(_never_applied(server_stack.STACK))
            return result
        # The pool and the worker live on that server: check them there.
        secret = recorded.platform.prefect_api_secret_arn
        settings = server_stack.targeting_recorded(settings, secret, recorded.server)
    futures, worker_vars = _submit_checks(settings, bucket, recorded.platform, recorded)
    if recorded.worker is None:
        result.findings.append(_never_applied(worker_stack.STACK))
    found: dict[str, list[Finding]] = {}
    for name, future in futures.items():
        try:
            checked = future.result()
        except Exception as exc:  # one check that cannot run does not stop the others
            result.errors.append(f"{name}: {_one_line(exc)}")
            continue
        if isinstance(checked, StackFindings):
            stack = name.removeprefix("terraform ")
            found[f"drift {stack}"], found[f"pending {stack}"] = checked.drift, checked.pending
        else:
            found[name] = checked
    patterns = ignore_patterns(settings, worker_vars)
    result.findings, result.ignored = assemble(result.findings, found, patterns)
    return result


def _evaluate(
    settings: BootstrapSettings, bucket: str, remediation: str | None = None
) -> DriftReport:
    started = time.monotonic()
    logger = get_run_logger()
    checked = _run_checks(settings, bucket)
    for finding in checked.findings:
        logger.warning(
            "%s: %s %s: expected %s, actual %s",
            finding.kind,
            finding.resource,
            finding.attribute,
            finding.expected,
            finding.actual,
        )
    return DriftReport(
        environment=settings.environment,
        status=status_of(checked.findings, checked.errors),
        findings=checked.findings,
        ignored=checked.ignored,
        errors=checked.errors,
        remediation=remediation,
        seconds=round(time.monotonic() - started, 1),
    )


def _skipped(environment: str) -> DriftReport:
    return DriftReport(
        environment=environment,
        status="skipped",
        note=f"a bootstrap or teardown of {environment} ran during the check; "
        "its results were not trusted (resources and state disagree mid-apply)",
    )


def _check(settings: BootstrapSettings, bucket: str, remediation: str | None = None) -> DriftReport:
    """One pass of every check, bookkept and published (unless a bootstrap overlapped it)."""
    if _bootstrap_running(settings):
        return _skipped(settings.environment)
    with _check_lock(settings):
        report = _evaluate(settings, bucket, remediation)
    if _bootstrap_running(settings):
        return _skipped(settings.environment)
    report = record(report)
    publish(report)
    get_run_logger().info(report.describe())
    return report


@task(name="resume work pool", cache_policy=NO_CACHE)
def resume_work_pool(settings: BootstrapSettings) -> bool:
    # The pool lives on the Prefect the worker talks to (the lock check above stays local).
    if not work_pool.set_paused(settings, False):
        return False
    get_run_logger().info("Resumed work pool %s", settings.work_pool_name)
    return True


def _remediate(settings: BootstrapSettings, environment: str, overrides: dict[str, Any]) -> str:
    """Re-apply through bootstrap (which takes the environment lock itself; we hold none)."""
    logger = get_run_logger()
    # Bootstrap's e2e stage runs a flow on the pool; on a paused pool it would wait forever.
    resumed = resume_work_pool(settings)
    logger.info("Remediating %s: running bootstrap", environment)
    try:
        result = bootstrap(environment=environment, overrides=overrides)
    except Exception as exc:  # reported in the re-check's summary; the re-check still runs
        return f"bootstrap failed: {_one_line(exc)}"
    if isinstance(result, State):  # not approved: it changed nothing
        return f"bootstrap ended {result.name}: {result.message}"
    applied = [stack for stack, changed in result.applied.items() if changed]
    done = f"bootstrap re-applied {', '.join(applied) or 'nothing'}"
    done += f"; work pool {result.work_pool_change}" + ("; pool resumed" if resumed else "")
    return done


@flow(name="drift-check", log_prints=True)
@failing_on_rate_limits
def drift_check(
    environment: str = "local",
    overrides: dict[str, Any] | None = None,
    remediate: bool = False,
) -> State[Any]:
    """Compare the environment with its code, settings and work pool; report what differs.

    Ends Completed (clean), Failed "Drifted" (findings) or Failed "CheckFailed" (a check could
    not run). With `remediate`, drift is handed to `bootstrap` and the environment re-checked.
    """
    started = time.monotonic()
    overrides = overrides or {}
    try:
        settings, report = preflight(environment, overrides, needs_docker=False, run="drift-check")
    except Exception as exc:
        failed = DriftReport(
            environment=environment,
            status="check-failed",
            errors=[f"preflight: {_one_line(exc)}"],
        )
        with contextlib.suppress(Exception):  # the Prefect API may be what is down
            failed = record(failed)
        return final_state(failed)
    bucket = settings.state_bucket_name(report.account_id)
    result = _check(settings, bucket)
    if remediate and result.status == "drifted":
        result = _check(settings, bucket, _remediate(settings, environment, overrides))
    result = result.model_copy(update={"seconds": round(time.monotonic() - started, 1)})
    return final_state(result)
