"""A socketserver server answering on a thread of its own: the start, stop and `with` lifecycle
the local stand-ins share (dns_responder.py's DNS answers, webhook_sink.py's Slack)."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self


class Served:
    """`server` (bound already, so its port is known before `start`) served on a daemon thread
    from `start` until `stop`; `with` does both."""

    def __init__(self, server: socketserver.TCPServer) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    @property
    def host_port(self) -> tuple[str, int]:
        """Where it answers (port 0 at bind time: the free one the system chose)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
