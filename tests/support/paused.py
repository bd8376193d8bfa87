"""A flow run in a thread, so a test can answer its approval form as a person does in the UI."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.objects import State, StateType


class Running:
    """`flow(*args)` running in a thread; `paused_run()` waits until it pauses for input."""

    def __init__(self, flow: Flow[Any, Any], *args: Any, **kwargs: Any) -> None:
        self.flow_name = flow.name
        self.states: list[State[Any]] = []
        self.thread = threading.Thread(
            target=lambda: self.states.append(flow(*args, **kwargs, return_state=True))
        )
        self.thread.start()

    def paused_run(self, after: int = 0, timeout: float = 300) -> UUID:
        """The id of the run once it is paused for the (after+1)-th time."""
        deadline = time.monotonic() + timeout
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline and self.thread.is_alive():
                runs = client.read_flow_runs(
                    flow_filter=FlowFilter(name=FlowFilterName(any_=[self.flow_name])),
                    sort="START_TIME_DESC",
                    limit=1,
                )
                run = runs[0] if runs else None
                if run and run.state and run.state.is_paused():
                    states = client.read_flow_run_states(run.id)
                    if sum(1 for s in states if s.type == StateType.PAUSED) > after:
                        return run.id
                time.sleep(0.5)
        raise AssertionError(f"{self.flow_name} never paused for approval: {self.states}")

    def final(self, timeout: float = 300) -> State[Any]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.flow_name} did not finish"
        return self.states[0]
