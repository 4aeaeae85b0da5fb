"""The upstream leg of a WebSocket: connected through the upstream pools' connection classes
(deny list, TLS verification), then the opening handshake."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request

from proxy.outgoing import OutgoingRequest
from proxy.upstream import POOLS
from proxy.ws.handshake import upstream_headers
from proxy.ws.relay import Leg
from proxy.ws.settings import WebSocketSettings


class UpstreamUnreachable(Exception):
    """No connection to the upstream (refused, timed out, or in a denied network)."""


class UpstreamRefused(Exception):
    """The upstream answered the handshake with an HTTP status instead of 101."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"the upstream refused the WebSocket handshake with {status}")
        self.status, self.body = status, body


@dataclass
class Opened:
    leg: Leg
    subprotocol: str | None


def open_upstream(
    outgoing: OutgoingRequest, offered: list[str], settings: WebSocketSettings
) -> Opened:
    """The upstream's WebSocket, its handshake done within handshake_timeout."""
    parts = urlsplit(outgoing.url)
    pool = POOLS.connection_from_url(outgoing.url)
    connection = pool._new_conn()  # the pool's class: deny list, TLS context, socket options
    connection.timeout = settings.handshake_timeout
    try:
        connection.connect()
    except (NewConnectionError, ConnectTimeoutError, OSError) as exc:
        raise UpstreamUnreachable(str(exc)) from exc
    sock, connection.sock = connection.sock, None
    websocket = WSConnection(ConnectionType.CLIENT)
    request = Request(
        host=outgoing.headers.get("Host") or parts.netloc,
        target=parts.path + (f"?{parts.query}" if parts.query else ""),
        extra_headers=upstream_headers(outgoing.headers),
        subprotocols=offered,
    )
    try:
        sock.settimeout(settings.handshake_timeout)
        sock.sendall(websocket.send(request))
        subprotocol = _handshake_answer(sock, websocket)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return Opened(Leg("upstream", sock, websocket, settings.read_size), subprotocol)


def _handshake_answer(sock, websocket: WSConnection) -> str | None:
    """The subprotocol the upstream accepted with (UpstreamRefused with its status else)."""
    refused: RejectConnection | None = None
    body = b""
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError as exc:
            raise UpstreamUnreachable("the upstream's handshake timed out") from exc
        except OSError as exc:
            raise UpstreamUnreachable(str(exc)) from exc
        websocket.receive_data(data or None)
        for event in websocket.events():
            if isinstance(event, AcceptConnection):
                return event.subprotocol
            if isinstance(event, RejectConnection):
                refused = event
                if not event.has_body:
                    raise UpstreamRefused(event.status_code, b"")
            elif isinstance(event, RejectData):
                body += event.data[: 4096 - len(body)]
                if event.body_finished and refused is not None:
                    raise UpstreamRefused(refused.status_code, body)
        if not data:
            status = refused.status_code if refused is not None else 502
            raise UpstreamRefused(status, body)
