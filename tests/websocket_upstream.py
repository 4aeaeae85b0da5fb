"""A real WebSocket server for the tests (the `websockets` library): an echo endpoint, and a
mock of OpenAI's Realtime API at /v1/realtime that checks the provider key."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs, urlsplit

from websockets.sync.server import ServerConnection, serve

REALTIME_KEY = "sk-realtime-provider"


class WebSocketUpstream:
    """Echoes text and binary messages; `close:<code>` closes with that code. Each handshake's
    path and headers are kept in `handshakes`."""

    def __init__(self) -> None:
        self.handshakes: list[tuple[str, dict[str, str]]] = []
        self.server = serve(self.handle, "127.0.0.1", 0, max_size=None, ping_interval=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebSocketUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)

    def handle(self, websocket: ServerConnection) -> None:
        request = websocket.request
        self.handshakes.append(
            (request.path, {k.lower(): v for k, v in request.headers.raw_items()})
        )
        if urlsplit(request.path).path.endswith("/realtime"):
            self.realtime(websocket)
            return
        for message in websocket:
            if isinstance(message, str) and message.startswith("close:"):
                websocket.close(int(message[6:]), "asked to close")
                return
            websocket.send(message)

    def realtime(self, websocket: ServerConnection) -> None:
        """OpenAI's Realtime protocol, its first steps: the provider key is required, the
        session is announced, a `response.create` is answered with `response.done`."""
        if websocket.request.headers.get("Authorization") != f"Bearer {REALTIME_KEY}":
            websocket.close(4001, "invalid api key")
            return
        model = parse_qs(urlsplit(websocket.request.path).query).get("model", [""])[0]
        websocket.send(json.dumps({"type": "session.created", "session": {"model": model}}))
        for message in websocket:
            event = json.loads(message)
            if event.get("type") == "response.create":
                websocket.send(json.dumps({"type": "response.done", "event_id": "evt_1"}))
