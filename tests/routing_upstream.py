"""An upstream whose answer is switched at runtime (status, Retry-After, latency, health) and
that logs when each request arrived: the resilient-routing tests' mock."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.upstream import BackgroundServer

HEALTH_PATH = "/health"
PROBE_AGENT = "gateway-health-check"


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the request line arrived
    path: str
    agent: str
    session: str


class SwitchableHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SwitchableServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        at = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        server = self.server
        server.log(
            Arrival(
                at,
                self.path,
                self.headers.get("User-Agent", ""),
                self.headers.get("X-Session", ""),
            )
        )
        if self.path == HEALTH_PATH:
            self._answer(server.health_status, {})
            return
        if server.drop:  # the connection ends before any answer
            self.close_connection = True
            return
        time.sleep(server.delay)
        self._answer(server.status, server.headers)

    do_GET = do_POST = _handle

    def _answer(self, status: int, headers: dict[str, str]) -> None:
        payload = json.dumps({"port": self.server.port}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class SwitchableServer(BackgroundServer):
    """Answers `status` with `headers` after `delay` seconds (or drops the connection); its
    health path answers `health_status`. Every arrival is in `arrivals`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SwitchableHandler)
        self.status = 200
        self.headers: dict[str, str] = {}
        self.delay = 0.0
        self.drop = False
        self.health_status = 200
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()

    def log(self, arrival: Arrival) -> None:
        with self._lock:
            self.arrivals.append(arrival)

    def calls(self) -> list[Arrival]:
        """The proxied requests (not the health probes)."""
        with self._lock:
            return [a for a in self.arrivals if a.path != HEALTH_PATH]

    def probes(self) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.path == HEALTH_PATH]
