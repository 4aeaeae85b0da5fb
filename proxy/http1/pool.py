"""Kept-alive upstream sockets per origin, and new ones connected as urllib3 connects them
(the deny list, TCP_NODELAY, TLS verified against the same context and hostname rules)."""

from __future__ import annotations

import socket
from functools import cache
from ssl import CertificateError
from ssl import SSLError as BaseSSLError
from typing import Any

from urllib3.exceptions import MaxRetryError, ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as ConnectFailed

from gateway_project.readiness import readable_now
from proxy.connections import UpstreamHTTPConnection, UpstreamHTTPSConnection, verifying_context

MAX_IDLE = 512  # kept-alive sockets per origin, as urllib3's pools kept (maxsize)
MAX_ORIGINS = 256


class Origin:
    """One scheme, host and port: its idle sockets (the most recently used first out)."""

    __slots__ = ("scheme", "host", "port", "host_header", "ssl_context", "idle")

    def __init__(self, scheme: str, host: str, port: int, ssl_context: Any) -> None:
        self.scheme = scheme
        self.host = host.strip("[]")  # what is connected to; the Host header keeps brackets
        self.port = port
        default = 443 if scheme == "https" else 80
        self.host_header = host if port == default else f"{host}:{port}"
        self.ssl_context = ssl_context
        self.idle: list[socket.socket] = []

    def take(self) -> socket.socket | None:
        """A kept-alive socket still open and silent (one the upstream closed, or wrote to
        while it idled, is closed and skipped, as urllib3 drops it), or None."""
        idle = self.idle
        while idle:
            sock = idle.pop()
            if not readable_now(sock):
                return sock
            sock.close()
        return None

    def give(self, sock: socket.socket) -> None:
        """Keep a socket whose answer was read to its end for the next request."""
        if len(self.idle) < MAX_IDLE:
            self.idle.append(sock)
        else:
            sock.close()

    def connect(self, timeout: float, url: str) -> socket.socket:
        """A new socket to the origin, connected within `timeout`. A network that cannot be
        reached (or a TLS handshake that fails) raises urllib3's MaxRetryError around the
        reason, as the pools did; a denied address UpstreamAddressDenied."""
        if self.scheme == "https":
            conn: Any = UpstreamHTTPSConnection(
                self.host,
                self.port,
                timeout=timeout,
                cert_reqs="CERT_REQUIRED",
                ssl_context=self.ssl_context,
            )
        else:
            conn = UpstreamHTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.connect()
        except (BaseSSLError, CertificateError) as exc:
            raise MaxRetryError(None, url, SSLError(exc)) from exc  # type: ignore[arg-type]
        except (ConnectFailed, SSLError) as exc:
            raise MaxRetryError(None, url, exc) from exc  # type: ignore[arg-type]
        except OSError as exc:
            raise ProtocolError("Connection aborted.", exc) from exc
        sock, conn.sock = conn.sock, None
        return sock


_ORIGINS: dict[tuple[str, str, int, str], Origin] = {}


def origin_of(
    scheme: str, host: str, port: int | None, tls: tuple[str, Any] | None = None
) -> Origin:
    """The origin of a URL's parts (its default port when none is named), made on first use;
    with `tls` (a name and an SSLContext), its own sockets connected with that context."""
    port = port or (443 if scheme == "https" else 80)
    key = (scheme, host, port, tls[0] if tls is not None else "")
    origin = _ORIGINS.get(key)
    if origin is None:
        if len(_ORIGINS) >= MAX_ORIGINS:  # many origins came and went: start afresh
            for old in _ORIGINS.values():
                for sock in old.idle:
                    sock.close()
            _ORIGINS.clear()
        context = None
        if scheme == "https":
            context = tls[1] if tls is not None and tls[1] is not None else _default_context()
        origin = _ORIGINS[key] = Origin(scheme, host, port, context)
    return origin


@cache
def _default_context() -> Any:
    return verifying_context()
