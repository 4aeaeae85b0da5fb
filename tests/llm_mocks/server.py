"""One threaded HTTP server playing every provider (paths do not overlap): it records what it
received, checks each provider's authentication, and answers in the provider's format."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.llm_mocks import anthropic, bedrock, gemini, openai, replies, responses
from tests.upstream import BackgroundServer, SeenRequest, write_chunked

API_KEY = "sk-mock-provider"
ROUTES = (
    (re.compile(r"^(?:/v1)?/chat/completions$"), openai.chat),
    (re.compile(r"^/mistral/v1/chat/completions$"), openai.mistral_chat),
    (re.compile(r"^/mistral/v1/embeddings$"), openai.embeddings),
    (re.compile(r"^(?:/v1)?/embeddings$"), openai.embeddings),
    (re.compile(r"^/openai/deployments/([^/]+)/chat/completions$"), openai.azure_chat),
    (re.compile(r"^/openai/deployments/([^/]+)/embeddings$"), openai.azure_embeddings),
    (re.compile(r"^(?:/v1)?/responses$"), responses.responses),
    (re.compile(r"^/openai/v1/responses$"), responses.azure_responses),
    (re.compile(r"^/v1/messages$"), anthropic.messages),
    (re.compile(r"^/v1beta/models/([^/:]+):(\w+)$"), gemini.dispatch),
    (re.compile(r"^/model/([^/]+)/(converse|converse-stream)$"), bedrock.converse),
    (re.compile(r"^/model/([^/]+)/invoke$"), bedrock.invoke),
)


class MockHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LLMMockServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.seen = SeenRequest(
            "POST",
            parts.path,
            parts.query,
            CaseInsensitiveDict(self.headers.items()),
            body,
            self.server.server_port,
        )
        self.server.record(self.seen)
        if self.server.fail_status:
            self.send_json(self.server.fail_status, {"error": {"message": "mock failure"}})
            return
        for pattern, handle in ROUTES:
            found = pattern.match(parts.path)
            if found:
                handle(
                    self, [unquote(group) for group in found.groups()], json.loads(body or b"{}")
                )
                return
        self.send_json(404, {"error": {"message": f"no route {parts.path}"}})

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def send_stream(self, content_type: str, pieces: Iterable[bytes]) -> None:
        """A chunked body, one chunk per piece, flushed as it is written; cut after half of
        them when the request asked for it (replies.CUT): the connection closes mid-body."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if replies.CUT.encode() not in self.seen.body:
            write_chunked(self.wfile, pieces)
            return
        pieces = list(pieces)
        for piece in pieces[: len(pieces) // 2]:
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class LLMMockServer(BackgroundServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), MockHandler)
        self.seen: list[SeenRequest] = []
        self.fail_status = 0  # answer every request with this status (a failing provider)
        self._lock = threading.Lock()

    def record(self, seen: SeenRequest) -> None:
        with self._lock:
            self.seen.append(seen)

    def last(self, path_part: str) -> SeenRequest:
        """The last request whose path contains `path_part`."""
        return next(s for s in reversed(self.seen) if path_part in s.path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
