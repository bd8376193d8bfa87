"""A local webhook sink standing in for Slack: records every POST body it receives.

Point a `custom-webhook` notification block at `url` and the alert automations' messages land
in `bodies` (and, with `record_to`, one JSON line each in a file, for a sink run as a process:
`python -m bootstrap_local.webhook_sink --port 8765 --record-to sink.jsonl`).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bootstrap_local.served import Served


class WebhookSink(Served):
    """An HTTP server on 127.0.0.1 that answers 200 to every POST and keeps its body."""

    def __init__(self, port: int = 0, record_to: Path | None = None) -> None:
        self.bodies: list[str] = []
        self._lock = threading.Lock()
        self._record_to = record_to
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sink.receive(self.rfile.read(length).decode("utf-8", errors="replace"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:  # quiet: the bodies are the record
                pass

        super().__init__(ThreadingHTTPServer(("127.0.0.1", port), Handler))

    @property
    def url(self) -> str:
        host, port = self.host_port
        return f"http://{host}:{port}/"

    def receive(self, body: str) -> None:
        with self._lock:
            self.bodies.append(body)
            if self._record_to is not None:
                with self._record_to.open("a", encoding="utf-8") as file:
                    file.write(json.dumps({"received": time.time(), "body": body}) + "\n")

    def wait_for(self, *words: str, timeout: float) -> str:
        """The first body holding every word, within `timeout` seconds; else TimeoutError
        naming what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = next((b for b in self.bodies if all(w in b for w in words)), None)
                seen = list(self.bodies)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no message with {words} in {timeout:.0f} s; got {seen}")
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--record-to", type=Path, required=True)
    args = parser.parse_args()
    sink = WebhookSink(args.port, args.record_to)
    print(f"Recording POST bodies sent to {sink.url} in {args.record_to}", flush=True)
    sink.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sink.stop()


if __name__ == "__main__":
    main()
