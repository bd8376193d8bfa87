"""The embedded default's commands, added to `bootstrap-flows` (entry point group
`bootstrap_flows.commands`):

bootstrap-flows quickstart          local stack up, deploy, run bootstrap/local, wait, report
bootstrap-flows local up|down|status
bootstrap-flows local certificate HOST   import a self-signed certificate into the emulator's
                                         ACM and print its ARN (for BOOTSTRAP_PREFECT_SERVER=aws)
"""

from __future__ import annotations

import argparse
import os
from typing import Any
from uuid import UUID

import httpx

from bootstrap_flows.cli import report
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.prefect_side import registration
from bootstrap_local import certificate, emulated_checks
from bootstrap_local import stack as local_stack
from bootstrap_local.settings import LocalSettings, load_local_settings


def deploy_all(settings: BootstrapSettings, local: LocalSettings) -> registration.Registered:
    """The configured environments' deployments, on the local Prefect server."""
    registered = registration.register(local_stack.child_env(settings, local))
    if settings.environment not in registered.environments:
        raise registration.RegistrationError(
            f"environment {settings.environment!r} is not configured: the quick start needs "
            "environments/local.env (see README, Environments)"
        )
    return registered


def run_and_wait(deployment: str, timeout: float = 1800) -> tuple[UUID, str]:
    """Run a deployment, wait for its final state; return (flow run id, state name)."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    flow_run: FlowRun = run_deployment(deployment, timeout=timeout)  # type: ignore[assignment]
    state = (flow_run.state.name if flow_run.state else None) or "Unknown"
    return flow_run.id, state


def summary_headline(flow_run_id: UUID) -> str:
    """The top of the run's summary artifact (stacks, image, pool, e2e run), as plain text."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    for artifact in artifacts:
        if (artifact.key or "").endswith("-bootstrap-summary"):
            top = str(artifact.data).split("## ", 1)[0]
            return "\n".join(line.replace("**", "") for line in top.splitlines() if line.strip())
    return ""


def quickstart(args: argparse.Namespace) -> int:
    settings, local = load_settings(environment="local"), load_local_settings()
    print("Starting the local stack (emulated AWS, Prefect server, bootstrap worker) ...")
    ui = local_stack.up(settings, local)
    os.environ["PREFECT_API_URL"] = local.prefect_api_url
    print(f"Prefect UI: {ui}")
    print("Registering the configured environments' deployments ...")
    report(deploy_all(settings, local))
    print("Running bootstrap/local; watch it in the UI ...")
    run_id, state = run_and_wait("bootstrap/local")
    print(f"bootstrap/local finished: {state}")
    headline = summary_headline(run_id)
    if headline:
        print(headline)
    print(f"Flow run: {ui}/runs/flow-run/{run_id}")
    print("Stop the local stack with: bootstrap-flows local down")
    return 0 if state == "Completed" else 1


def manage(args: argparse.Namespace) -> int:
    """`local up|down|status|certificate`."""
    local = load_local_settings()
    if args.action == "up":
        settings = load_settings(environment="local")
        print(f"Local stack up; Prefect UI: {local_stack.up(settings, local)}")
        for name in emulated_checks.paused(local):
            print(
                f"{name} is paused: its emulated AWS stopped with `local down`. Bootstrap it "
                "again and resume it with bootstrap-flows quickstart (or bootstrap-flows deploy)."
            )
    elif args.action == "certificate":
        settings = load_settings(environment="local")
        print(certificate.import_self_signed(settings, args.host))
    elif args.action == "down":
        try:
            for name in emulated_checks.pause(local):
                print(f"Paused {name}: its emulated AWS stops with the stack.")
        except httpx.HTTPError as exc:  # a Prefect that does not answer must not keep it up
            print(f"Could not pause the emulated environments' drift checks ({exc}).")
        print(f"Stopped: {', '.join(local_stack.down(local)) or 'nothing was running'}")
    else:
        for service, pid in local_stack.status(local).items():
            print(f"{service:8} {f'running (pid {pid})' if pid else 'stopped'}")
    return 0


def add_commands(commands: Any) -> None:
    """The entry point: `quickstart` and `local`, added to `bootstrap-flows`."""
    commands.add_parser(
        "quickstart", help="run bootstrap/local on the embedded default"
    ).set_defaults(run=quickstart)
    local = commands.add_parser("local", help="manage the embedded default's local stack")
    local.add_argument("action", choices=["up", "down", "status", "certificate"])
    local.add_argument("host", nargs="?", default="prefect.local.example", help="certificate's")
    local.set_defaults(run=manage)
