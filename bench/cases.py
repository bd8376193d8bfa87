"""The two sides of each case: ours (the flows, called in-process) and its baseline (by hand).

Ours runs in environment `bench`, the manual procedure in `manual`: distinct names, so neither
side ever sees the other's state, resources, pool or deployment.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import docker
from botocore.exceptions import ClientError

from bench import manual
from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.names import derived
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.drift_check import drift_check
from bootstrap_flows.flows.summary import BootstrapResult
from bootstrap_flows.flows.teardown import teardown
from bootstrap_flows.image.build import build_image
from bootstrap_flows.image.context import build_context, write_context
from bootstrap_flows.image.engine import docker_client, stream_error
from bootstrap_flows.image.models import ImageSource
from bootstrap_flows.prefect_side import target_prefect
from bootstrap_flows.terraform import platform_stack, stacks, worker_stack
from bootstrap_local.registry import registry_dir
from bootstrap_local.settings import load_local_settings

OURS, MANUAL = "bench", "manual"
LOG = logging.getLogger("bench")


def overrides(environment: str) -> dict[str, Any]:
    # One pool per environment: the pool is the one thing the stacks do not name by environment.
    return {"work_pool_name": f"{environment}-pool"}


def settings_for(environment: str) -> BootstrapSettings:
    return load_settings(environment=environment, **overrides(environment))


@dataclass
class Sample:
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    flow_run_id: UUID | None = None


def _flow_state(state: Any) -> tuple[Any, UUID | None]:
    return state.result(raise_on_failure=True), state.state_details.flow_run_id


def ours_bootstrap(expect_changes: bool, **extra: Any) -> Sample:
    started = time.monotonic()
    state = bootstrap(environment=OURS, overrides=overrides(OURS) | extra, return_state=True)
    seconds = time.monotonic() - started
    result, run_id = _flow_state(state)
    assert isinstance(result, BootstrapResult), f"bootstrap ended {state.name}: {state.message}"
    applied = any(result.applied.values())
    assert applied == expect_changes, (
        f"applied {result.applied}, expected changes: {expect_changes}"
    )
    return Sample(seconds, dict(result.timings), run_id)


def ours_first(base: str) -> Sample:
    """The first bootstrap ever: `base` is a fresh_base, so nothing of the image is cached."""
    empty_registry()  # untimed, as is everything before ours_bootstrap's clock starts
    shutil.rmtree(settings_for(OURS).environment_dir, ignore_errors=True)
    return ours_bootstrap(expect_changes=True, worker_base_image=base)


def ours_drift() -> Sample:
    started = time.monotonic()
    state = drift_check(environment=OURS, overrides=overrides(OURS), return_state=True)
    seconds = time.monotonic() - started
    assert state.name == "Completed", f"drift-check on a clean environment ended {state.name}"
    return Sample(seconds, flow_run_id=state.state_details.flow_run_id)


def ours_teardown() -> Sample:
    started = time.monotonic()
    state = teardown(
        environment=OURS,
        overrides=overrides(OURS),
        delete_work_pool=True,
        confirm=OURS,
        return_state=True,
    )
    seconds = time.monotonic() - started
    assert state.is_completed(), f"teardown ended {state.name}: {state.message}"
    return Sample(seconds, flow_run_id=state.state_details.flow_run_id)


@dataclass
class Baseline:
    """The by-hand side: its work dirs, the image context, the bare stacks of both sides."""

    work: Path
    account: str
    context: Path = field(init=False)
    base_image: str = field(init=False)
    ours_bare: dict[str, manual.BareStack] = field(default_factory=dict)

    def prepare_image(self) -> None:
        """Build once, untimed: both sides then build from the same warm cache."""
        settings = settings_for(MANUAL)
        built = build_image(settings, LOG)
        assert built.base_image, "the worker image names its base"
        self.base_image = built.base_image
        context = build_context(
            settings, ImageSource(), {"BASE_IMAGE": built.base_image}, docker_client()
        )
        self.context = self.work / "image-context"
        self.context.mkdir(parents=True, exist_ok=True)
        write_context(context, self.context)

    def first(self, base: str) -> Sample:
        """The manual procedure on a fresh_base, `docker build --no-cache` (untimed: the reset)."""
        empty_registry()
        shutil.rmtree(self.work / MANUAL, ignore_errors=True)
        steps = manual.manual_bootstrap(
            settings_for(MANUAL), self.account, self.work / MANUAL, self.context, base, True
        )
        return Sample(steps.total, steps.seconds)

    def cold(self) -> Sample:
        steps = manual.manual_bootstrap(
            settings_for(MANUAL), self.account, self.work / MANUAL, self.context, self.base_image
        )
        return Sample(steps.total, steps.seconds)

    def init_ours(self) -> None:
        """Initialise bare Terraform on ours' stacks (untimed: a user re-running has done it)."""
        settings = settings_for(OURS)
        bucket = settings.state_bucket_name(self.account)
        platform = platform_stack.PlatformOutputs.model_validate(
            stacks.read_outputs(settings, platform_stack.STACK, bucket)
        )
        worker = stacks.read_outputs(settings, worker_stack.STACK, bucket)
        self.ours_bare = manual.bare_stacks(settings, self.work / "bare-ours")
        self.ours_bare[platform_stack.STACK].init(
            bucket, platform_stack.platform_variables(settings)
        )
        variables = worker_stack.worker_variables(settings, platform, worker["image_uri"])
        self.ours_bare[worker_stack.STACK].init(bucket, variables)

    def _timed(self, run: Any, *args: str) -> Sample:
        steps = manual.Steps()
        run(self.ours_bare, steps, *args)
        return Sample(steps.total, steps.seconds)

    def rerun(self) -> Sample:
        return self._timed(manual.bare_plans)

    def drift(self) -> Sample:
        return self._timed(manual.bare_plans, "-refresh-only")

    def teardown(self) -> Sample:
        steps = manual.Steps()
        manual.bare_destroy(manual.bare_stacks(settings_for(MANUAL), self.work / MANUAL), steps)
        self.forget_manual_pool()
        self.forget_manual_secret()
        return Sample(steps.total, steps.seconds)

    def forget_manual_secret(self) -> None:
        """Untimed: `destroy` leaves the API secret scheduled for deletion (a recovery window, as
        on AWS), and a CreateSecret of its name is refused until the window ends; the next
        manual bootstrap is a user's after the window, not a restore (ours restores, timed)."""
        settings = settings_for(MANUAL)
        name = derived("API key secret").name(settings.name_prefix, MANUAL)
        with contextlib.suppress(ClientError):  # nothing to forget: the destroy failed earlier
            aws.client(settings, "secretsmanager").delete_secret(
                SecretId=name, ForceDeleteWithoutRecovery=True
            )

    def forget_manual_pool(self) -> None:
        """What the manual procedure made on Prefect (untimed; destroy does not touch it)."""
        settings = settings_for(MANUAL)
        with target_prefect.client(settings) as client:
            for pool in client.read_work_pools():
                if pool.name == settings.work_pool_name:
                    client.delete_work_pool(pool.name)


# --- first: nothing cached --------------------------------------------------------------------
# What stays cached on both sides alike: the base image's layers in the engine (Docker is offline
# here; a user's pulled base would be), the Terraform provider (a filesystem mirror) and
# whatever the machine's HTTPS proxy keeps of the package index pip downloads from (the build
# sets PIP_NO_CACHE_DIR). Gone before each side's sample: every build step, the worker image in
# the engine and in the registry, and the side's local Terraform data dirs.
FIRST_LABEL = "org.bootstrap-flows.bench-first"
FIRST_BASE = "bootstrap-flows/bench-first-base"


def fresh_base(parent: str) -> str:
    """`parent`'s layers under a new image id that no image on the engine descends from.

    The legacy builder's cache for a step is a child of the same parent image made by the same
    instruction, so no step of a build on this base can come from any cache, and the images
    other builds on this shared engine rely on are never touched (`builder prune` would).
    """
    nonce = uuid4().hex[:12]
    tag = f"{FIRST_BASE}:{nonce}"
    dockerfile = f"FROM {parent}\nLABEL {FIRST_LABEL}={nonce}\n".encode()
    events = docker_client().api.build(
        fileobj=io.BytesIO(dockerfile), tag=tag, pull=False, rm=True, decode=True
    )
    for event in events:
        if failure := stream_error(event):
            raise RuntimeError(f"making the first case's base from {parent}: {failure}")
    return tag


def empty_registry() -> None:
    """No worker image in the bench's own registry (its state dir's; untimed, with both
    environments down): every repository goes, so a push cannot mount a layer from the other
    side's repository either (ECR mounts none unless switched on)."""
    shutil.rmtree(registry_dir(load_local_settings()) / "data" / "docker", ignore_errors=True)


def forget_first(base: str) -> list[str]:
    """After the side's teardown: remove every image built on `base` (labels are inherited:
    the build stages, the worker image and its registry tags) and `base`; the ids left."""
    nonce = base.rsplit(":", 1)[1]
    api = docker_client().api
    left = [i["Id"] for i in api.images(all=True, filters={"label": f"{FIRST_LABEL}={nonce}"})]
    # A parent goes only after its children; the engine says which (409), so retry those.
    for _ in range(5):
        for image in list(left):
            try:
                api.remove_image(image, force=True)
                left.remove(image)
            except docker.errors.NotFound:
                left.remove(image)
            except docker.errors.APIError as exc:
                LOG.debug("image %s not removed yet: %s", image, exc.explanation)
        if not left:
            break
    return left


def first_pair(
    baseline: Baseline, time_it: Callable[[str, str, Callable[[], Sample]], Any]
) -> None:
    """One pair of `first`: each side from nothing, then down again (untimed, `first-down`) and
    its images removed, so the next side starts from nothing too."""
    for side, run, down in (
        ("ours", ours_first, ours_teardown),
        ("baseline", baseline.first, baseline.teardown),
    ):
        base = fresh_base(baseline.base_image)
        time_it("first", side, functools.partial(run, base))
        time_it("first-down", side, down)
        if left := forget_first(base):
            LOG.warning("first: images built on %s left on the engine: %s", base, left)
