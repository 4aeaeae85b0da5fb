"""Whether a socket has bytes waiting, asked without waiting: poll(2), never select(2), whose
descriptor limit (FD_SETSIZE, 1024) a worker holding a thousand streams passes."""

from __future__ import annotations

import select
import socket

from gevent import monkey

_poll = monkey.get_original("select", "poll")  # gevent's own waits for its loop: not at once


def readable_now(sock: socket.socket) -> bool:
    """Whether `sock` has bytes, its end of stream or an error waiting now (ValueError when it
    is closed)."""
    poller = _poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
