"""WebSockets through gunicorn: the handshake checked like any request (key, rate limits),
frames relayed both ways (text, binary, ping, close codes, a 1 MB message), OpenAI's Realtime
API with the provider key injected, the active count, and a clean close on a graceful stop."""

from __future__ import annotations

import json
import re
import socket

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.builders import provider_target, routed_gateway
from tests.e2e.server import GatewayServer
from tests.websocket_upstream import REALTIME_KEY, WebSocketUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ws_upstream():
    server = WebSocketUpstream().start()
    yield server
    server.stop()


def open_websocket(
    server: GatewayServer, subdomain: str, path: str, key: str | None, **kwargs
) -> ClientConnection:
    """A WebSocket to `subdomain` of the gateway (Host from the URI, socket to the server)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    headers = {"X-API-Key": key} if key else {}
    return connect(
        f"ws://{subdomain}.localhost{path}",
        sock=sock,
        additional_headers=headers,
        max_size=None,
        open_timeout=10,
        **kwargs,
    )


@pytest.fixture(scope="module")
def ws_gateway(gateway_server, ws_upstream):
    target = {
        "host": "127.0.0.1",
        "port": ws_upstream.port,
        "credentials": {"header_name": "X-Upstream-Token", "header_value": "upstream-secret"},
    }
    return routed_gateway(
        gateway_server.post,
        subdomain="e2e-ws",
        targets=[target],
        methods=("GET",),
        upstream_fields={"websocket_config": {"ping_period": "20s", "pong_wait": "10s"}},
    )


def test_frames_are_relayed_both_ways(gateway_server, ws_gateway, ws_upstream):
    with open_websocket(gateway_server, "e2e-ws", "/chat?room=1", ws_gateway.key) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=10) == "hello"
        websocket.send(b"\x00\x01binary")
        assert websocket.recv(timeout=10) == b"\x00\x01binary"
        big = "x" * 1_000_000
        websocket.send(big)
        assert websocket.recv(timeout=20) == big
        assert websocket.ping(b"are-you-there").wait(timeout=10)  # the upstream's pong
    path, headers = ws_upstream.handshakes[-1]
    assert path == "/chat?room=1"
    assert headers["x-upstream-token"] == "upstream-secret"  # the target's credentials
    assert "x-api-key" not in headers  # the gateway's key stays here
    assert headers["sec-websocket-key"] != ""


def test_the_upstreams_close_code_reaches_the_client(gateway_server, ws_gateway):
    with open_websocket(gateway_server, "e2e-ws", "/chat", ws_gateway.key) as websocket:
        websocket.send("close:4001")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=10)
    assert closed.value.rcvd.code == 4001
    assert closed.value.rcvd.reason == "asked to close"


def test_the_clients_close_code_reaches_the_upstream(gateway_server, ws_gateway):
    with open_websocket(gateway_server, "e2e-ws", "/chat", ws_gateway.key) as websocket:
        websocket.send("ping")
        assert websocket.recv(timeout=10) == "ping"
        websocket.close(code=4002, reason="client done")
    assert websocket.close_code == 4002  # the upstream answered the relayed close with it


def test_a_handshake_without_a_key_is_refused(gateway_server, ws_gateway):
    with pytest.raises(InvalidStatus) as refused:
        open_websocket(gateway_server, "e2e-ws", "/chat", None)
    assert refused.value.response.status_code == 401


def test_a_rate_limited_handshake_answers_429(gateway_server, ws_upstream):
    limiter = {
        "name": "rate_limiter",
        "enabled": True,
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": {"per_ip": {"limit": 1, "window": "1m"}}},
    }
    gateway = routed_gateway(
        gateway_server.post,
        subdomain="e2e-ws-limited",
        targets=[("127.0.0.1", ws_upstream.port)],
        methods=("GET",),
        required_plugins=[limiter],
    )
    with open_websocket(gateway_server, "e2e-ws-limited", "/a", gateway.key) as websocket:
        websocket.send("one")
        assert websocket.recv(timeout=10) == "one"
    with pytest.raises(InvalidStatus) as refused:
        open_websocket(gateway_server, "e2e-ws-limited", "/a", gateway.key)
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"]


def test_an_unreachable_upstream_is_a_502(gateway_server):
    closed_port = socket.socket()
    closed_port.bind(("127.0.0.1", 0))
    port = closed_port.getsockname()[1]
    closed_port.close()
    gateway = routed_gateway(
        gateway_server.post,
        subdomain="e2e-ws-down",
        targets=[("127.0.0.1", port)],
        methods=("GET",),
    )
    with pytest.raises(InvalidStatus) as refused:
        open_websocket(gateway_server, "e2e-ws-down", "/a", gateway.key)
    assert refused.value.response.status_code == 502


def test_openai_realtime_gets_the_provider_key(gateway_server, ws_upstream):
    model = "gpt-4o-realtime-preview"
    target = provider_target(ws_upstream.port, model, credentials={"api_key": REALTIME_KEY})
    gateway = routed_gateway(
        gateway_server.post,
        subdomain="e2e-realtime",
        target_dicts=[target],
        path="/v1/*",
        methods=("GET", "POST"),
    )
    path = f"/v1/realtime?model={model}"
    headers = {"OpenAI-Beta": "realtime=v1"}
    with open_websocket_bearer(gateway_server, path, gateway.key, headers) as ws:
        created = json.loads(ws.recv(timeout=10))
        assert created == {"type": "session.created", "session": {"model": model}}
        ws.send(json.dumps({"type": "response.create"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "response.done"
    path_seen, headers_seen = ws_upstream.handshakes[-1]
    assert path_seen == f"/v1/realtime?model={model}"
    assert headers_seen["authorization"] == f"Bearer {REALTIME_KEY}"  # not the gateway key
    assert headers_seen["openai-beta"] == "realtime=v1"


def open_websocket_bearer(
    server: GatewayServer, path: str, key: str, headers: dict[str, str]
) -> ClientConnection:
    """As OpenAI's SDKs connect: the key as a bearer token."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return connect(
        f"ws://e2e-realtime.localhost{path}",
        sock=sock,
        additional_headers={"Authorization": f"Bearer {key}", **headers},
        open_timeout=10,
    )


def active_websockets(server: GatewayServer) -> float:
    text = requests.get(server.base_url + "/metrics", timeout=10).text
    found = re.search(r"^gateway_active_websockets (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_graceful_stop_closes_websockets_with_going_away(tmp_path, ws_upstream):
    server = GatewayServer(tmp_path, None, workers=1).start()
    try:
        gateway = routed_gateway(
            server.post,
            subdomain="ws-stop",
            targets=[("127.0.0.1", ws_upstream.port)],
            methods=("GET",),
        )
        with open_websocket(server, "ws-stop", "/chat", gateway.key) as websocket:
            websocket.send("before")
            assert websocket.recv(timeout=10) == "before"
            assert active_websockets(server) == 1
            server.process.terminate()
            with pytest.raises(ConnectionClosed) as closed:
                websocket.recv(timeout=20)
        assert closed.value.rcvd.code == 1001
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
