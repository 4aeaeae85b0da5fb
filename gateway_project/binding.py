"""Where the server listens: on loopback only (this machine), or beyond it (no Django)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

LOCAL_NAMES = frozenset({"localhost"})


def loopback_only(binds: Iterable[str]) -> bool:
    """True when every address (gunicorn's `host:port`, `[v6]:port`, `unix:path`) is reachable
    from this machine only; an empty host, a wildcard or any other name is beyond loopback."""
    return all(_is_local(bind) for bind in binds)


def _is_local(bind: str) -> bool:
    if bind.startswith("unix:"):
        return True
    host = bind.rsplit(":", 1)[0] if bind.count(":") == 1 or bind.startswith("[") else bind
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_exposure(binds: Iterable[str], metrics_token: str) -> str | None:
    """Why the server must not start (None when it may): listening beyond loopback with
    /metrics open to anyone who reaches it."""
    binds = list(binds)
    if metrics_token or loopback_only(binds):
        return None
    return (
        f"refusing to start: listening on {', '.join(binds)} (beyond loopback) with /metrics "
        "open; set GATEWAY_METRICS_TOKEN (scrapers send `Authorization: Bearer <token>`) or "
        "listen on 127.0.0.1 (GATEWAY_BIND=127.0.0.1:8080)"
    )
