"""The flows users deploy: `bootstrap` (bootstrap.py), `teardown` (teardown.py) and
`drift-check` (drift_check.py; what it asks is in `drift/`).

`stages` holds one task per stage; `summary` the final artifact; `outcomes` keeps a run that
ends in an expected state (Rejected, TimedOut, Drifted, CheckFailed) from logging as a crash.
Installed here, on import of any flow, because Prefect's engine imports the flow before it runs it;
so is the call counter a process started with BOOTSTRAP_COUNT_CALLS runs (call_counts.py).
"""

from bootstrap_flows.call_counts import from_environment
from bootstrap_flows.flows.outcomes import quiet_expected_outcomes

quiet_expected_outcomes()
from_environment()
