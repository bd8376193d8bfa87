"""boto3 sessions (bootstrap_flows/aws_side/clients.py): one per thread and per credential
environment."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest

from bootstrap_flows.aws_side import clients as aws


def test_a_thread_keeps_its_session_while_the_credential_environment_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "one")
    first = aws.session()
    assert aws.session() is first
    monkeypatch.setenv("AWS_PROFILE", "two")
    second = aws.session()
    assert second is not first and second.profile_name == "two"
    monkeypatch.setenv("AWS_PROFILE", "one")
    assert aws.session() is first


def test_threads_never_share_a_session() -> None:
    here = aws.session()
    with ThreadPoolExecutor(1) as other:
        there = other.submit(aws.session).result()
    assert there is not here


def test_sessions_share_the_parsed_service_models() -> None:
    with ThreadPoolExecutor(1) as other:
        there = other.submit(aws.session).result()
    loader = aws.session()._session.get_component("data_loader")
    assert there._session.get_component("data_loader") is loader


def test_a_run_makes_each_client_once_and_a_copy_of_its_settings_anew() -> None:
    from bootstrap_flows.aws_side.clients import client
    from bootstrap_flows.config.settings import load_settings

    settings = load_settings(aws_endpoint_url="http://127.0.0.1:9")  # nothing is called
    assert client(settings, "s3") is client(settings, "s3")
    assert client(settings, "s3") is not client(settings, "ecs")
    assert client(settings, "s3", endpoint_url="http://127.0.0.1:8") is not client(settings, "s3")
    copy = settings.model_copy(update={"aws_region": "eu-west-1"})
    assert client(copy, "s3").meta.region_name == "eu-west-1"
    # Settings travel in Prefect results (pickled); their clients do not.
    assert pickle.loads(pickle.dumps(settings))._clients == {}
