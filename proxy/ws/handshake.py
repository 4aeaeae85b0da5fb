"""The client's opening handshake (RFC 6455 section 4.2.1) and the one sent upstream."""

from __future__ import annotations

from collections.abc import Mapping

from requests.structures import CaseInsensitiveDict

from gateway_project.headers import HOP_BY_HOP

# The handshake's own headers: each leg has its own key, version and extensions.
HANDSHAKE_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "content-length",
    }
)


class BadHandshake(ValueError):
    """The client asked to upgrade without a valid WebSocket handshake."""


def asks_for_websocket(environ: Mapping[str, str]) -> bool:
    """Whether the request (its WSGI environ) asks to upgrade to WebSocket (`Upgrade:
    websocket`)."""
    return "websocket" in environ.get("HTTP_UPGRADE", "").lower()


def client_key(method: str, headers: Mapping[str, str]) -> str:
    """The client's Sec-WebSocket-Key once its handshake is checked (BadHandshake naming what
    is wrong otherwise)."""
    if method != "GET":
        raise BadHandshake("a WebSocket handshake is a GET request")
    tokens = {token.strip().lower() for token in headers.get("Connection", "").split(",")}
    if "upgrade" not in tokens:
        raise BadHandshake("Connection must include 'Upgrade'")
    if headers.get("Sec-WebSocket-Version", "").strip() != "13":
        raise BadHandshake("Sec-WebSocket-Version must be 13")
    key = headers.get("Sec-WebSocket-Key", "").strip()
    if len(key) != 24 or not key.endswith("=="):
        raise BadHandshake("Sec-WebSocket-Key must be 16 bytes in base64")
    return key


def subprotocols(headers: Mapping[str, str]) -> list[str]:
    """The subprotocols the client offers, passed on for the upstream to choose."""
    offered = headers.get("Sec-WebSocket-Protocol", "")
    return [name.strip() for name in offered.split(",") if name.strip()]


def upstream_headers(headers: CaseInsensitiveDict) -> list[tuple[bytes, bytes]]:
    """The headers of the upstream's handshake: the outgoing request's, less hop-by-hop ones
    and those of the client's own handshake."""
    dropped = HANDSHAKE_HEADERS | {name.lower() for name in HOP_BY_HOP}
    return [
        (name.encode("latin-1"), str(value).encode("latin-1"))
        for name, value in headers.items()
        if name.lower() not in dropped
    ]


def accept_response(accept_token: str, subprotocol: str | None) -> bytes:
    """The 101 answer that completes the client's handshake."""
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_token}",
    ]
    if subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
