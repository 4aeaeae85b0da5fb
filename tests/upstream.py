"""A real upstream HTTP server for tests: echoes requests, streams SSE, sleeps, returns statuses."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, Self
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

SSE_EVENTS = 10
SSE_INTERVAL = 0.1


@dataclass
class SeenRequest:
    method: str
    path: str
    query: str
    headers: CaseInsensitiveDict
    body: bytes
    server_port: int = 0


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: UpstreamServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = SeenRequest(
            self.command,
            parts.path,
            parts.query,
            CaseInsensitiveDict(self.headers.items()),
            body,
            self.server.server_port,
        )
        self.server.record(seen)
        query = parse_qs(parts.query)
        if parts.path.startswith("/status/"):
            self._json(int(parts.path.rsplit("/", 1)[1]), {"status": "as asked"})
        elif parts.path == "/cookies":
            self._json(
                200, {}, extra={"Set-Cookie": "a=1; Path=/; HttpOnly"}, cookies=["b=2; Max-Age=60"]
            )
        elif parts.path == "/set-cookies":  # each `cookie` query value as its own Set-Cookie
            self._json(200, {}, cookies=query.get("cookie", []))
        elif parts.path == "/sse":
            self._sse()
        elif parts.path == "/scripted":
            self._scripted(json.loads(body))
        elif parts.path == "/reply":  # answers the `json` of the request body, with a length
            self._json(200, json.loads(body)["json"])
        elif parts.path == "/slow":
            time.sleep(float(query.get("seconds", ["2"])[0]))
            self._json(200, {"slow": True})
        else:
            self._json(
                200,
                {
                    "method": seen.method,
                    "path": seen.path,
                    "query": seen.query,
                    "body": body.decode(errors="replace"),
                    "port": self.server.server_port,
                },
                extra={"X-Upstream": "echo"},
            )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def do_HEAD(self) -> None:
        self._handle()

    def _json(
        self, status: int, data: dict, extra: dict[str, str] | None = None, cookies: list[str] = ()
    ) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        for cookie in cookies:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index in range(SSE_EVENTS):
            event = f"data: {json.dumps({'index': index, 'sent_at': time.time()})}\n\n".encode()
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
            time.sleep(SSE_INTERVAL)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _scripted(self, script: dict) -> None:
        """Send `chunks` (strings; `raw_chunks`: latin-1 strings of any bytes) as separate,
        flushed HTTP chunks of `content_type`, gzip-compressed as one stream when `gzip`."""
        self.send_response(200)
        content_type = script.get("content_type", "text/event-stream")
        if content_type is not None:  # None: no Content-Type at all
            self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        compressor = zlib.compressobj(wbits=31) if script.get("gzip") else None
        if compressor:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        pieces = [chunk.encode() for chunk in script.get("chunks", ())]
        pieces += [chunk.encode("latin-1") for chunk in script.get("raw_chunks", ())]
        if compressor:
            pieces = [compressor.compress(p) + compressor.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
            pieces.append(compressor.flush())
        write_chunked(self.wfile, pieces)


def write_chunked(wfile: BinaryIO, pieces: Iterable[bytes]) -> None:
    """A chunked body, one chunk per piece, each flushed as it is written, then its end."""
    for piece in pieces:
        wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        wfile.flush()
    wfile.write(b"0\r\n\r\n")
    wfile.flush()


class BackgroundServer(ThreadingHTTPServer):
    """A threaded HTTP server on a free loopback port, served from a daemon thread. Stopping it
    also ends its kept-alive connections: the gateway's pool must not keep talking to a stopped
    test's server through a port the next test's server is given."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's listen backlog is 5: a burst of new connections from the gateway (200 at
    # once in the attack tests) overflowed it while this process's accept thread waited for the
    # GIL, and Linux dropped the SYNs or the handshakes' last ACKs. Those connections were
    # retried after 1, 3, 7, 15 s: past the gateway's connect timeout (a 502) or the test
    # client's read timeout (no answer at all). gunicorn's own default backlog:
    request_queue_size = 2048

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_activate(self) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().server_activate()

    def handle_error(self, request, client_address) -> None:
        pass  # a client (the gateway's pool) closing a kept-alive connection is not an error

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> Self:
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class UpstreamServer(BackgroundServer):
    handler_class: type[BaseHTTPRequestHandler] = EchoHandler

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), self.handler_class)
        self.seen: list[SeenRequest] = []
        self._lock = threading.Lock()

    def record(self, seen: SeenRequest) -> None:
        with self._lock:
            self.seen.append(seen)


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Upstreams:
    servers: list[UpstreamServer] = field(default_factory=list)

    def start(
        self, host: str = "127.0.0.1", server_class: type[UpstreamServer] = UpstreamServer
    ) -> UpstreamServer:
        server = server_class(host).start()
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
