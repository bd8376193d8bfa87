"""moto's server as the embedded default runs it: moto 5.2.6 with the patches of
`bootstrap_local.aws_like` (moto made to behave like AWS where the product depends on it).

`--record-role-calls FILE` writes every request signed with a key the emulated STS issued for a
role (AssumeRole: what the local ECS runtime hands each task and agent) to FILE, in moto's
recorder format, without the session token. Only those: the requests made with the emulator's
own keys (Terraform, the flows, the runtime) carry secret values in their bodies (PutSecretValue)
and are nobody's role's calls. tests/support/aws_calls.py reads the file.

Run it with moto's own arguments: `python -m bootstrap_local.moto_server -H 127.0.0.1 -p
4566`. The product never imports this: it is what the local stack and the tests start as AWS.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto import server
from moto.iam.models import get_account_id_from, iam_backends
from moto.moto_api import recorder
from moto.utilities.utils import PARTITION_NAMES

from bootstrap_local import aws_like

SIGNING_KEY = re.compile(r"Credential=([A-Z0-9]+)/")
SESSION_TOKEN = "x-amz-security-token"


def role_of_key(access_key_id: str) -> str | None:
    """The role ARN a key was issued for by the emulated STS's AssumeRole, else None."""
    account = iam_backends[get_account_id_from(access_key_id)]
    for partition in PARTITION_NAMES:
        key = account[partition].access_keys.get(access_key_id)
        if key is not None:
            return key.role_arn
    return None


class _WithoutSessionToken:
    """A request as moto's recorder reads it, minus the session token (a credential)."""

    def __init__(self, request: Any) -> None:
        self._request = request
        self.headers = {
            name: value for name, value in request.headers.items() if name.lower() != SESSION_TOKEN
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def record_role_calls(path: Path) -> None:
    """Record, to `path`, the requests signed with keys of assumed roles (see the module)."""
    if getattr(recorder._record_request, "role_calls", False):
        return
    # Typed as moto's Request; the wrapper below stands in for one (it reads only attributes).
    record: Callable[[Any, bytes | None], None] = recorder._record_request
    # moto serves requests on threads; one entry must stay one line of the file.
    lock = threading.Lock()

    def record_role_call(request: Any, body: bytes | None = None) -> None:
        signed = SIGNING_KEY.search(request.headers.get("Authorization", ""))
        if signed is None or role_of_key(signed.group(1)) is None:
            return
        with lock:
            record(_WithoutSessionToken(request), body)

    record_role_call.__dict__["role_calls"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    recorder._location = str(path)
    recorder._user_enabled = True
    recorder._record_request = record_role_call  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--record-role-calls", type=Path, default=None)
    ours, moto_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    aws_like.patch()
    if ours.record_role_calls is not None:
        record_role_calls(ours.record_role_calls)
    # moto's own parser falls back to sys.argv when given no arguments: ours are not its.
    sys.argv[1:] = moto_args
    server.main(moto_args)


if __name__ == "__main__":
    main()
