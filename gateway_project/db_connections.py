"""Database connections a request opened, closed at its end as Django's request_finished closes
them, without sending the signal (the proxy's answers, proxy/wsgi_front.py)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db import close_old_connections, connections
from django.db.backends.signals import connection_created

# Whether this greenlet (or thread) holds a database connection: each has its own connections
# (Django keeps them in an asgiref Local) and its own context.
_holding: ContextVar[bool] = ContextVar("gateway.holding_db_connection", default=False)


def _opened(**kwargs: Any) -> None:
    _holding.set(True)


connection_created.connect(_opened, dispatch_uid="gateway_project.db_connections")


def close_request_connections() -> None:
    """request_finished's close_old_connections, where a connection was opened: each one unusable
    or past CONN_MAX_AGE is closed (every one with the default 0); one kept open is looked at
    again at the end of the next request. Nothing to do (no Local lookups) where none was."""
    if not _holding.get():
        return
    close_old_connections()
    opened = connections.all(initialized_only=True)
    _holding.set(any(connection.connection is not None for connection in opened))
