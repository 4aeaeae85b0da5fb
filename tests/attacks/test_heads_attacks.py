"""Response header lines an app passes on from its input, through one gunicorn worker of the
gateway's class: lines that would split the head (CR, LF, NUL, a name that is not a token) are
refused with a 500 and never reach the client; hop-by-hop lines are dropped; WebSocket upgrade
lines and Content-Length are honoured."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.gateway_project.worker_process import gateway_worker
from tests.raw_http import RawResponse, RawServer, raw_exchange, request_head


@pytest.fixture(scope="module")
def port():
    """One gunicorn worker of the gateway's class serving echo_app.header_echo."""
    with gateway_worker("tests.gateway_project.echo_app:header_echo") as port:
        yield port


def answer(port: int, lines: list[list[str]]) -> RawResponse:
    body = json.dumps(lines).encode()
    head = f"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    return raw_exchange(port, head.encode() + body)


INJECTIONS = [
    [["X-A", "1\r\nSet-Cookie: stolen=1"]],
    [["X-A", "1\nSet-Cookie: stolen=1"]],
    [["X-A", "1\rSet-Cookie: stolen=1"]],
    [["X-A", "1\x00Set-Cookie: stolen=1"]],
    [["X-A", "1\x0bSet-Cookie: stolen=1"]],
    [["X-A", "1\x7fSet-Cookie: stolen=1"]],
    [["X-A", "1\u0100Set-Cookie: stolen=1"]],
    [["X-A\r\nSet-Cookie: stolen", "1"]],
    [["X-A\nSet-Cookie: stolen", "1"]],
    [["X-A\x00Set-Cookie: stolen", "1"]],
    [["X-A: 1\r\nSet-Cookie", "stolen=1"]],
    [["X A", "1"], ["Set-Cookie", "stolen=1"]],
    [["", "Set-Cookie: stolen=1"]],
    [["X-Ok", "1"], ["X-B", "2\r\nSet-Cookie: stolen=1"], ["X-C", "3"]],
    [["X-Ok", "1"], ["X-B\r\n", "2"], ["Set-Cookie", "stolen=1"]],
]


@pytest.mark.parametrize("lines", INJECTIONS)
def test_a_line_that_would_split_the_head_is_refused(port, lines):
    response = answer(port, lines)
    assert response.status == 500
    assert b"stolen" not in response.head + response.body
    assert b"X-Ok" not in response.head


def test_safe_lines_pass_hop_by_hop_lines_are_dropped(port):
    lines = [
        ["X-A", "  spaced\tvalue \t"],
        ["X-Latin", "caf\u00e9"],
        ["Keep-Alive", "timeout=99"],
        ["Transfer-Encoding", "chunked"],
        ["Trailer", "X-B"],
        ["Proxy-Authenticate", "Basic"],
        ["Date", "Thu, 01 Jan 1970 00:00:00 GMT"],
        ["Server", "spoofed"],
        ["Upgrade", "h2c"],
        ["X-Empty", ""],
    ]
    response = answer(port, lines)
    assert response.status == 200
    assert response.body == b"ok"
    assert response.headers["x-a"] == "spaced\tvalue"
    assert response.headers["x-latin"] == "caf\u00e9"
    assert response.headers["x-empty"] == ""
    assert b"\r\nX-A: spaced\tvalue\r\n" in response.head
    for name in ("keep-alive", "transfer-encoding", "upgrade", "proxy-authenticate"):
        assert name not in response.headers
    assert b"spoofed" not in response.head
    assert b"1970" not in response.head
    assert response.headers["connection"] == "close"
    assert response.head.count(b"\r\nDate: ") == 1


def test_content_length_is_read_from_the_app(port):
    body = json.dumps([]).encode()
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((head.encode() + body) * 2)  # kept alive: Content-Length frames the body
        received = b""
        while received.count(b"ok") < 2 and (chunk := sock.recv(65536)):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert received.count(b"\r\nConnection: keep-alive\r\n") == 2
    assert b"Transfer-Encoding" not in received


class HeadersUpstream(RawServer):
    """Answers every request with the header lines named by its path (`/<case>`)."""

    LINES = {
        "nul": b"X-Evil: 1\x00Set-Cookie: stolen=1\r\n",
        "cr": b"X-Evil: 1\rSet-Cookie: stolen=1\r\n",
        "name": b"X-Evil\x00Set-Cookie: stolen=1\r\n",
        "latin": b"X-Latin: caf\xe9\r\n",
        "limits": b"X-RateLimit-Limit: 999999\r\nX-Up: 1\r\n",
    }

    def serve(self, connection: socket.socket, number: int) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head and (chunk := connection.recv(65536)):
                head += chunk
            case = head.split(b" ", 2)[1].decode().strip("/")
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
                + self.LINES.get(case, b"")
                + b"\r\nok"
            )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    server = GatewayServer(tmp_path_factory.mktemp("heads"), os.environ["TEST_REDIS_URL"], 1)
    upstream = HeadersUpstream()
    limiter = {"name": "rate_limiter", "stage": "pre_request", "priority": 1}
    limiter["settings"] = {"limits": {"global": {"limit": 100, "window": "1m"}}}
    routed_gateway(
        server.start().post,
        subdomain="heads",
        targets=[("127.0.0.1", upstream.port)],
        public=True,
        required_plugins=[limiter],
    )
    yield server
    server.stop()
    upstream.close()


def proxied(server: GatewayServer, case: str) -> RawResponse:
    return raw_exchange(server.port, request_head("GET", f"/{case}", "heads.localhost"))


@pytest.mark.e2e
@pytest.mark.parametrize("case", ["nul", "cr", "name"])
def test_e2e_an_upstream_line_that_would_split_the_head_never_reaches_the_client(gateway, case):
    response = proxied(gateway, case)  # refused by the upstream's parser (llhttp): a 502
    assert response.status >= 500
    assert b"stolen" not in response.head + response.body
    assert b"\x00" not in response.head


@pytest.mark.e2e
def test_e2e_upstream_and_rate_limiter_lines_pass_the_gateways_win(gateway):
    latin = proxied(gateway, "latin")
    assert latin.status == 200
    assert latin.headers["x-latin"] == "caf\u00e9"
    limits = proxied(gateway, "limits")
    assert limits.status == 200
    assert limits.headers["x-up"] == "1"
    assert limits.headers["x-ratelimit-limit"] == "100"
    assert limits.head.lower().count(b"\r\nx-ratelimit-limit:") == 1
    assert limits.headers["x-ratelimit-global-remaining"].isdigit()
    assert float(limits.headers["x-gateway-latency-ms"]) >= 0
