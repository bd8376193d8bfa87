"""What this test session's local stack uses: ports, state dir and the worker's credential.

Chosen once per process, when this module is first imported (pytest-xdist's workers are processes:
each gets its own). The suite's top conftest.py imports it before Prefect is imported and puts these
into the environment, so Prefect's settings (read once at import) point at the test server. Nothing
here imports Prefect or the product.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from tests.support.ports import free_port

TESTS = Path(__file__).parent.parent
FIXTURES = TESTS / "fixtures"
STATE_DIR = Path(tempfile.mkdtemp(prefix="bootstrap-flows-test-"))
MOTO_PORT, PREFECT_PORT, REGISTRY_PORT = free_port(), free_port(), free_port()
POSTGRES_PORT, SERVER_PORT, DNS_PORT = free_port(), free_port(), free_port()
# The environment files the flows read: the checkout's `local` only, so the examples of other
# environments (a region, a pool name) never change what a test of `dev` or `prod` sets up.
ENVIRONMENTS_DIR = STATE_DIR / "environments"
ENVIRONMENTS_DIR.mkdir()
shutil.copy(TESTS.parent / "environments" / "local.env", ENVIRONMENTS_DIR)
# The worker's Prefect credential for this test session: must never show up in state or logs.
AUTH_STRING = f"worker:{secrets.token_hex(16)}"
