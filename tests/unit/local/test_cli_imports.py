"""The CLI must not import Prefect at start: Prefect reads PREFECT_API_URL once, at import, and
`quickstart` / `local up` set it to the local stack's server only after starting it (imported
too early, the worker-readiness check asked a temporary server and the quick start failed)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_imports_no_prefect() -> None:
    code = (
        "import sys, bootstrap_flows.cli\n"
        "bootstrap_flows.cli.parser()  # loads every plugin's commands\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'prefect_aws')))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
