"""Reading back a flow run's persisted result, as Prefect writes it, without running anything."""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import cloudpickle
import pytest
from prefect._internal.result_records import ResultRecord, ResultRecordMetadata
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.serializers import JSONSerializer, PickleSerializer

from bootstrap_flows.prefect_side.e2e_storage import decode_result, result_key, result_location


def stored(value: Any, serializer: Any) -> tuple[bytes, str]:
    """A flow result as Prefect's result store writes it to the bucket, and its serializer."""
    metadata = ResultRecordMetadata(storage_key="k", serializer=serializer)
    return ResultRecord(metadata=metadata, result=value).serialize_result(), serializer.type


def test_plain_values_come_back_from_pickle_and_json_results() -> None:
    value = {"flow_run_id": "r", "code_sha256": "ab", "n": [1, 2.5, None, True]}
    assert decode_result(*stored(value, PickleSerializer())) == value
    assert decode_result(*stored(value, JSONSerializer())) == value


def test_a_pickle_that_names_a_callable_is_refused_not_run() -> None:
    hostile = base64.encodebytes(cloudpickle.dumps(datetime.now(UTC)))
    with pytest.raises(pickle.UnpicklingError, match="plain values only"):
        decode_result(hostile, "pickle")


def run_with(data: Any) -> FlowRun:
    return FlowRun(flow_id=uuid4(), state=State(type=StateType.COMPLETED, data=data))


def test_result_location_comes_from_the_runs_state_and_the_blocks_folder() -> None:
    metadata = ResultRecordMetadata(storage_key="0f3a", serializer=PickleSerializer())
    assert result_location(run_with(metadata)) == ("0f3a", "pickle")
    assert result_location(run_with(metadata), "team-a/") == ("team-a/0f3a", "pickle")
    # As the API returns a state read back: plain data.
    assert result_key(run_with(metadata.model_dump(mode="json"))) == "0f3a"
    assert result_location(run_with(None)) is None
