"""gunicorn's gevent worker, closing idle keep-alive connections as soon as a graceful stop begins.

gunicorn's own gevent worker waits on TERM for every connection's greenlet, idle keep-alive
ones included, and clients' connection pools keep those open: every stop took the whole
graceful_timeout and then cut them anyway. Here requests in flight finish (answered with
`Connection: close`) and idle connections are closed at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from typing import Any

import gevent
from gevent import monkey
from gunicorn.workers.ggevent import GeventWorker

IDLE_SWEEP_INTERVAL_SECONDS = 0.25


def has_pending_data(connection: socket.socket) -> bool:
    """Whether a request has started to arrive on `connection` (it is then served, not cut)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
    except (OSError, ValueError):  # already closed
        return False
    return bool(readable)


def end_connection(connection: socket.socket) -> None:
    """Shut the connection down under its greenlet: its pending read sees a clean end of stream.

    (gevent's own shutdown() would instead fail that read with an error gunicorn logs.)"""
    with contextlib.suppress(OSError, ValueError):
        duplicate = monkey.get_original("socket", "socket")(fileno=os.dup(connection.fileno()))
        with duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)


class GatewayGeventWorker(GeventWorker):
    """The gevent worker plus a registry of connections waiting for their next request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_connections: set[socket.socket] = set()

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        self.idle_connections.add(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self.idle_connections.discard(client)

    def handle_request(self, listener_name: Any, req: Any, sock: socket.socket, addr: Any) -> Any:
        self.idle_connections.discard(sock)
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            self.idle_connections.add(sock)  # waiting for the next request, or for the close

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop as gunicorn does, and keep closing connections that fall idle."""
        super().handle_exit(sig, frame)
        gevent.spawn(self.close_idle_connections)

    def close_idle_connections(self) -> None:
        while True:  # until the worker exits: connections accepted meanwhile fall idle too
            for connection in list(self.idle_connections):
                if not has_pending_data(connection):
                    self.idle_connections.discard(connection)
                    end_connection(connection)
            gevent.sleep(IDLE_SWEEP_INTERVAL_SECONDS)
