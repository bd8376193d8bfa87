"""moto's server as the embedded default runs it: moto 5.2.6 with the patches of
`bootstrap_local.aws_like` (moto made to behave like AWS where the product depends on it).

`--record-role-calls FILE` writes every request signed with a key the emulated STS issued for a
role (AssumeRole: what the local ECS runtime hands each task and agent) to FILE, in moto's
recorder format, without the session token. Only those: the requests made with the emulator's
own keys (Terraform, the flows, the runtime) carry secret values in their bodies (PutSecretValue)
and are nobody's role's calls. tests/support/aws_calls.py reads the file.

`--record-operator-calls FILE` writes every request signed with the operator's key
(`--operator-key`: the local stack gives the emulator's own key, which Terraform, the flows and
the CLI use; the local ECS runtime signs with a key of its own) to FILE, one line per call with
only the names of what it addresses (bootstrap_local/operator_calls.py), never a request body.

`--dns-port PORT` answers, on 127.0.0.1:PORT (UDP), the NS records public DNS would give for
the zones of this moto's Route 53 (bootstrap_local/dns_responder.py): the emulator target's
resolver for the delegation check.

Run it with moto's own arguments: `python -m bootstrap_local.moto_server -H 127.0.0.1 -p
4566`. The product never imports this: it is what the local stack and the tests start as AWS.
"""

from __future__ import annotations

import argparse
import io
import json
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

from bootstrap_local import aws_like, operator_calls
from bootstrap_local.dns_responder import DnsResponder

SIGNING_KEY = re.compile(r"Credential=([A-Z0-9]+)/")
SIGNING_KEY_ANY = re.compile(r"Credential=([^/\s]+)/")
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


def _body(request: Any) -> bytes:
    """The request's body, left readable for moto (as its recorder does)."""
    try:
        size = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return b""
    if size <= 0:
        return b""
    body = request.environ["wsgi.input"].read(size)
    request.environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def _url(request: Any) -> str:
    # Percent-encoded as sent (an S3 key may hold an encoded "/"), as moto's recorder keeps it.
    return str(getattr(request, "raw_url", None) or request.url)


def record_operator_calls(path: Path, key_id: str) -> None:
    """Append, to `path`, each request signed with `key_id` as the names it addresses (see the
    module); every other request goes on to the recorder installed before (role calls)."""
    if getattr(recorder._record_request, "operator_calls", False):
        return
    previous: Callable[[Any, bytes | None], None] = recorder._record_request
    lock = threading.Lock()
    path.parent.mkdir(parents=True, exist_ok=True)

    def record_operator_call(request: Any, body: bytes | None = None) -> None:
        signed = SIGNING_KEY_ANY.search(request.headers.get("Authorization", ""))
        if signed is None or signed.group(1) != key_id:
            previous(request, body)
            return
        given = body if body is not None else _body(request)
        line = operator_calls.entry(dict(request.headers), request.method, _url(request), given)
        if line is None:
            return
        with lock, path.open("a") as out:
            out.write(json.dumps(line) + "\n")

    record_operator_call.__dict__["operator_calls"] = True
    recorder._record_request = record_operator_call  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--record-role-calls", type=Path, default=None)
    parser.add_argument("--record-operator-calls", type=Path, default=None)
    parser.add_argument("--operator-key", default=None)
    parser.add_argument("--dns-port", type=int, default=None)
    ours, moto_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    if ours.record_operator_calls is not None and not ours.operator_key:
        parser.error("--record-operator-calls needs --operator-key (the key id to record)")
    aws_like.patch()
    if ours.record_role_calls is not None:
        record_role_calls(ours.record_role_calls)
    # After the role recorder: this one hands it every request not signed by the operator.
    if ours.record_operator_calls is not None:
        record_operator_calls(ours.record_operator_calls, ours.operator_key)
    if ours.dns_port is not None:
        # Bound before moto serves: a taken port stops this process, with the cause in its log.
        DnsResponder(port=ours.dns_port).start()
    # moto's own parser falls back to sys.argv when given no arguments: ours are not its.
    sys.argv[1:] = moto_args
    server.main(moto_args)


if __name__ == "__main__":
    main()
