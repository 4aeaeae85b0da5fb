"""The test upstreams' server: a burst of new connections is queued, none dropped."""

from __future__ import annotations

import contextlib
import socket

from gateway_project.env import VARIABLES
from tests.upstream import UpstreamServer

BURST = 200  # the attack tests' concurrent clients, each on a new connection to the gateway
CONNECT_TIMEOUT = VARIABLES["GATEWAY_CONNECT_TIMEOUT"].default  # the gateway's default


def test_a_burst_of_connections_is_queued_while_the_server_accepts_none():
    """Was: a listen backlog of 5, so the 7th connection's SYN was dropped and retried after
    1, 3, 7 s: past the gateway's connect timeout when the server's thread was busy."""
    server = UpstreamServer()  # listening, its accept loop not started yet
    with contextlib.ExitStack() as stack:
        stack.callback(server.server_close)
        connections = [
            stack.enter_context(
                socket.create_connection(("127.0.0.1", server.port), timeout=CONNECT_TIMEOUT)
            )
            for _ in range(BURST)
        ]
        for connection in connections:
            connection.sendall(b"GET /x HTTP/1.1\r\nHost: upstream\r\nConnection: close\r\n\r\n")
        server.start()
        stack.callback(server.shutdown)
        statuses = [status_of(connection) for connection in connections]
    assert statuses == [b"200"] * BURST


def status_of(connection: socket.socket) -> bytes:
    with connection.makefile("rb") as answer:
        return answer.readline().split()[1]
