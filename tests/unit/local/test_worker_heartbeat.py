"""The embedded default's `bootstrap` worker gives its flow runs the heartbeat the crash
automation expects."""

from __future__ import annotations

from bootstrap_flows.crash_detection import HEARTBEAT_ENV, HEARTBEAT_SECONDS
from bootstrap_flows.local import stack
from bootstrap_flows.settings import load_settings


def test_the_worker_sets_the_flow_run_heartbeat() -> None:
    settings = load_settings(environment="local")
    assert stack.worker_env(settings)[HEARTBEAT_ENV] == str(HEARTBEAT_SECONDS)
    assert stack.worker_env(settings)["PREFECT_API_URL"] == settings.local_prefect_api_url
    assert stack._worker(settings).env == stack.worker_env(settings)
