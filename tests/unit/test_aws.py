"""boto3 sessions (bootstrap_flows/aws_side/clients.py): one per thread and per credential
environment."""

from __future__ import annotations

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
