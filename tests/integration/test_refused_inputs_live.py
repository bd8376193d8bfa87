"""Refused inputs that only a live service can show: the real `bootstrap` flow stops in preflight.

Each case runs `bootstrap` on the embedded default with one bad input and asserts the README
row's message, that emulated AWS holds no state bucket and no VPC of the environment, and that
the orchestrating Prefect holds no object the run did not find there (a pool, deployment, block,
variable, concurrency limit or automation). A stand-in Prefect (a few lines of http.server)
answers the way a wrong URL or a wrong password does. The other rows of the README's table are
in tests/unit/test_refused_inputs.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError
from tests.support.ports import free_port
from tests.support.refusals import Key, rows

ENVIRONMENT = "refused"
SECRET = "s3cr3t"


@dataclass(frozen=True)
class LiveCase:
    """Overrides and environment of one refused run; `{prefect}` and `{dead}` are filled in."""

    overrides: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    # How the stand-in Prefect answers (/health, everything else); None: no stand-in.
    prefect: tuple[int, int] | None = None
    # Prefect Variables on the orchestrator during the run (a promotion source's record).
    variables: Mapping[str, Any] = field(default_factory=dict)
    # A work pool of the run's name already there: "process", or "ecs" made by the bootstrap
    # of another environment (`first`); it must be left as it was.
    pool: str | None = None


LIVE_CASES: dict[Key, LiveCase] = {
    ("az_count", "3 in us-west-1, which has 2 zones"): LiveCase(
        overrides={"aws_region": "us-west-1", "az_count": 3}
    ),
    ("aws_endpoint_url", "an emulator that does not answer"): LiveCase(
        overrides={"aws_endpoint_url": "{dead}"}
    ),
    ("prefect_api_url", "a Prefect that does not answer"): LiveCase(
        overrides={"prefect_api_url": "{dead}/api"}
    ),
    ("prefect_api_url", "a server that is not Prefect"): LiveCase(
        overrides={"prefect_api_url": "{prefect}/api"}, prefect=(404, 404)
    ),
    ("prefect_api_auth_string", "a wrong password"): LiveCase(
        overrides={"prefect_api_url": "{prefect}/api"},
        env={"BOOTSTRAP_PREFECT_API_AUTH_STRING": f"admin:wrong-{SECRET}"},
        prefect=(200, 401),
    ),
    ("Docker engine", "none answers"): LiveCase(
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    ),
    ("work_pool_name", "the pool of another environment on the same Prefect"): LiveCase(pool="ecs"),
    ("work_pool_name", "a pool of another type"): LiveCase(pool="process"),
    ("notification_block", "a block the orchestrating Prefect does not hold"): LiveCase(
        overrides={"notification_block": "slack-webhook/nowhere"}
    ),
    ("promote_from", "an environment with no passed image"): LiveCase(
        overrides={"promote_from": "untested"}
    ),
    ("promote_from", "an image that passed with other code"): LiveCase(
        overrides={"promote_from": "tested"},
        variables={
            "bootstrap-passed-tested": {
                "environment": "tested",
                "uri": "127.0.0.1:5000/prefect-tested-worker@sha256:" + "0" * 64,
                "tag": "0" * 20,
                "digest": "sha256:" + "0" * 64,
                "region": "us-east-1",
                "code": "1" * 20,
                "passed_at": "2025-01-01T00:00:00Z",
            }
        },
    ),
}


class _StandIn(BaseHTTPRequestHandler):
    answers: tuple[int, int] = (200, 200)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        health, other = self.answers
        status = health if self.path.rstrip("/").endswith("/health") else other
        body = b"true" if status == 200 else b'{"detail": "no"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def orchestrator_variables(variables: Mapping[str, Any]) -> Iterator[None]:
    """Prefect Variables on the test's Prefect for the run, deleted afterwards."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate

    with get_client(sync_client=True) as client:
        for name, value in variables.items():
            client.create_variable(VariableCreate(name=name, value=value))
        try:
            yield
        finally:
            for name in variables:
                client.delete_variable_by_name(name)


@contextmanager
def existing_pool(kind: str | None, settings: BootstrapSettings) -> Iterator[None]:
    """The pool a case finds (see LiveCase.pool); asserts it is untouched, then deletes it.

    A pool of that name already there is an earlier module's `local` one (the default name):
    it is put back as it was afterwards, or `local`'s ECS worker, still running, would make it
    again with Prefect's default template in the middle of a later case."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    from bootstrap_flows.prefect_side.work_pool import ensure_work_pool
    from tests.support.samples import IMAGE, OUTPUTS

    if kind is None:
        yield
        return
    name = settings.work_pool_name
    with get_client(sync_client=True) as client:
        try:
            found = client.read_work_pool(name)
            client.delete_work_pool(name)
        except ObjectNotFound:
            found = None
        if kind == "ecs":  # what the other environment's bootstrap made
            ensure_work_pool(settings.model_copy(update={"environment": "first"}), OUTPUTS, IMAGE)
        else:
            client.create_work_pool(WorkPoolCreate(name=name, type=kind))
        before = client.read_work_pool(name)
        try:
            yield
        finally:
            after = client.read_work_pool(name)
            client.delete_work_pool(name)
            if found is not None:
                fields = set(WorkPoolCreate.model_fields)
                client.create_work_pool(
                    WorkPoolCreate.model_validate(found.model_dump(include=fields))
                )
    assert after == before, "the other pool was changed"


@contextmanager
def stand_in_prefect(answers: tuple[int, int] | None) -> Iterator[str]:
    """An HTTP server answering `answers` on 127.0.0.1; yields its URL, stops it afterwards."""
    if answers is None:
        yield ""
        return
    handler = type("Handler", (_StandIn,), {"answers": answers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _filled(overrides: Mapping[str, Any], fill: Callable[[str], str]) -> dict[str, Any]:
    return {name: fill(v) if isinstance(v, str) else v for name, v in overrides.items()}


def made_for(settings: BootstrapSettings) -> list[str]:
    """The environment's state bucket and VPC in emulated AWS, if anything made them."""
    buckets = aws.client(settings, "s3").list_buckets().get("Buckets", [])
    vpcs = aws.client(settings, "ec2").describe_vpcs(
        Filters=[{"Name": "tag:Name", "Values": [f"prefect-{ENVIRONMENT}-vpc"]}]
    )["Vpcs"]
    return [b["Name"] for b in buckets if f"-{ENVIRONMENT}-tfstate-" in b["Name"]] + [
        vpc["VpcId"] for vpc in vpcs
    ]


def prefect_objects() -> set[str]:
    """What a bootstrap makes on the orchestrating Prefect: pools, deployments, blocks,
    variables, concurrency limits (the environment's lock), automations."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {
            *(f"pool {p.name}" for p in client.read_work_pools()),
            *(f"deployment {d.name}" for d in client.read_deployments()),
            *(f"block {b.name}" for b in client.read_block_documents()),
            *(f"variable {v.name}" for v in client.read_variables()),
            *(f"limit {c.name}" for c in client.read_global_concurrency_limits(limit=200)),
            *(f"automation {a.name}" for a in client.read_automations()),
        }


@pytest.mark.slow
@pytest.mark.parametrize("key", list(LIVE_CASES), ids=[f"{i}: {v}" for i, v in LIVE_CASES])
def test_refused_before_anything_is_created(
    key: Key, local_stack: BootstrapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bootstrap_flows.flows.bootstrap import bootstrap

    row = rows()[key]
    case = LIVE_CASES[key]
    region = str(case.overrides.get("aws_region", local_stack.aws_region))
    dead = f"http://127.0.0.1:{free_port()}"
    with (
        stand_in_prefect(case.prefect) as prefect,
        orchestrator_variables(case.variables),
        existing_pool(case.pool, local_stack),
    ):
        # A pool of its own unless the case is about the pool: an earlier module on this worker
        # may have left `local`'s pool under the default name, and its owner check would then
        # refuse the run before the check this row is about.
        own_pool = {} if case.pool else {"work_pool_name": f"{ENVIRONMENT}-pool"}
        overrides = _filled(
            {"target": "emulator", **own_pool, **case.overrides},
            lambda v: v.replace("{dead}", dead).replace("{prefect}", prefect),
        )
        for name, value in case.env.items():
            monkeypatch.setenv(name, value)
        before = prefect_objects()
        with pytest.raises(BootstrapError) as caught:
            bootstrap(environment=ENVIRONMENT, overrides=overrides)
        assert prefect_objects() == before  # no pool, deployment, block, variable, lock
    message = str(caught.value)
    assert row.matches(message), f"README says {row.message!r}; the run said {message!r}"
    assert SECRET not in message
    assert made_for(local_stack.model_copy(update={"aws_region": region})) == []
