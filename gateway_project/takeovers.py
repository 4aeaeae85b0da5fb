"""Connections a handler took over from the server (WebSockets): the worker's graceful stop asks
each to close (gateway_project/workers.py), and never writes an HTTP answer on them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

_shutdowns: set[Callable[[], None]] = set()


@contextlib.contextmanager
def taken_over(shutdown: Callable[[], None]) -> Iterator[None]:
    """While the block runs, the connection is the handler's; `shutdown` closes it cleanly."""
    _shutdowns.add(shutdown)
    try:
        yield
    finally:
        _shutdowns.discard(shutdown)


def shut_down_all() -> None:
    """Ask every taken-over connection to close (the server is stopping)."""
    for shutdown in list(_shutdowns):
        shutdown()


def active() -> int:
    return len(_shutdowns)
