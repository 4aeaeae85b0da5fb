"""Frames relayed both ways between the client and the upstream, each leg with its own protocol
state (wsproto): messages as they arrive (fragments included, none buffered whole), pings and
pongs end to end, the close code of one side passed to the other."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import gevent
from gevent.event import Event as Signal
from gevent.lock import Semaphore
from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Event, Message, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from proxy.ws.settings import WebSocketSettings

KEEPALIVE = b"gateway-keepalive"  # the payload of the gateway's own pings to the client
CLOSE_WAIT_SECONDS = 5.0  # for the other side's close once one was sent
# Codes a close frame may not carry (RFC 6455 7.4.1): what is sent in their place.
NOT_SENDABLE = {
    CloseReason.NO_STATUS_RCVD: CloseReason.NORMAL_CLOSURE,
    CloseReason.ABNORMAL_CLOSURE: CloseReason.GOING_AWAY,
    CloseReason.TLS_HANDSHAKE_FAILED: CloseReason.GOING_AWAY,
}
BAD_GATEWAY = 1014  # the upstream went away without a close (RFC 6455 IANA registry)


@dataclass
class Leg:
    """One side of the relay: its socket, its WebSocket state and a lock for its writes (two
    greenlets write to each side: the other side's relay and the keep-alive)."""

    name: str
    sock: socket.socket
    connection: Connection
    read_size: int
    lock: Semaphore = field(default_factory=Semaphore)
    messages: int = 0
    bytes: int = 0

    @property
    def closed(self) -> bool:
        return self.connection.state is ConnectionState.CLOSED

    def events(self) -> Iterator[Event]:
        """What this side sends, until its connection ends (a socket error ends it too)."""
        yield from self.connection.events()  # what arrived with the handshake's answer
        while not self.closed:
            try:
                data = self.sock.recv(self.read_size)
            except OSError:
                data = b""
            self.connection.receive_data(data or None)
            yield from self.connection.events()
            if not data:
                return

    def send(self, event: Event) -> None:
        """Send `event` if this side's state still allows it (a close only once)."""
        state = self.connection.state
        closing = isinstance(event, CloseConnection)
        if state is not ConnectionState.OPEN and not (
            closing and state is ConnectionState.REMOTE_CLOSING
        ):
            return
        with self.lock, contextlib.suppress(OSError, LocalProtocolError):
            self.sock.sendall(self.connection.send(event))

    def close(self, code: int, reason: str | None = None) -> None:
        code = NOT_SENDABLE.get(code, code)
        self.send(CloseConnection(code=code, reason=reason))


class Relay:
    """The frames of one WebSocket, relayed until both sides closed (or timed out)."""

    def __init__(self, client: Leg, upstream: Leg, settings: WebSocketSettings) -> None:
        self.client, self.upstream, self.settings = client, upstream, settings
        self.done = Signal()
        self.last_frame = self.last_pong = time.monotonic()
        self.closing_since: float | None = None
        self.close_code: int | None = None

    def run(self) -> None:
        pumps = [
            gevent.spawn(self.pump, self.client, self.upstream),
            gevent.spawn(self.pump, self.upstream, self.client),
        ]
        keeper = gevent.spawn(self.keep_alive)
        try:
            self.done.wait()
        finally:
            gevent.killall([*pumps, keeper], block=False)
            for leg in (self.client, self.upstream):
                with contextlib.suppress(OSError):
                    leg.sock.close()

    def pump(self, source: Leg, sink: Leg) -> None:
        """Everything `source` sends, passed to `sink`; its close ends the pump."""
        size = 0
        try:
            for event in source.events():
                self.last_frame = time.monotonic()
                if isinstance(event, Message):
                    size += len(event.data)
                    if size > self.settings.max_message_size:
                        self.close_both(CloseReason.MESSAGE_TOO_BIG, "message too big")
                        return
                    size = 0 if event.message_finished else size
                    source.messages += event.message_finished
                    source.bytes += len(event.data)
                    sink.send(relayed_message(event))
                elif isinstance(event, Ping):
                    sink.send(Ping(payload=event.payload))
                elif isinstance(event, Pong):
                    if source is self.client and event.payload == KEEPALIVE:
                        self.last_pong = time.monotonic()
                    else:
                        sink.send(Pong(payload=event.payload))
                elif isinstance(event, CloseConnection):
                    self.closed_by(source, sink, event)
                self.check_done()
        except RemoteProtocolError as exc:  # a malformed frame: that side is done
            self.close_both(CloseReason.PROTOCOL_ERROR, str(exc)[:100])
        finally:
            if not sink.closed and self.closing_since is None:
                code = BAD_GATEWAY if source is self.upstream else CloseReason.GOING_AWAY
                self.close_both(code, "the other side went away")
            self.check_done()

    def closed_by(self, source: Leg, sink: Leg, event: CloseConnection) -> None:
        """`source` closed: its code goes to `sink` (which answers with its own close), or it
        answered `sink`'s close."""
        if self.close_code is None:
            self.close_code = event.code
        self.closing_since = self.closing_since or time.monotonic()
        if event.code == CloseReason.ABNORMAL_CLOSURE and source is self.upstream:
            sink.close(BAD_GATEWAY, "the upstream went away")
        else:
            sink.close(event.code, event.reason)
        source.close(event.code, event.reason)  # the answer to a close the gateway relayed

    def close_both(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
        self.closing_since = self.closing_since or time.monotonic()
        self.client.close(code, reason)
        self.upstream.close(code, reason)

    def shutdown(self) -> None:
        """The server stops: both sides are told the gateway is going away."""
        self.close_both(CloseReason.GOING_AWAY, "the gateway is stopping")

    def check_done(self) -> None:
        if self.client.closed and self.upstream.closed:
            self.done.set()

    def keep_alive(self) -> None:
        """Pings the client every ping_period; closes a connection whose pong is pong_wait late,
        one idle for idle_timeout, and one whose close was not answered in time."""
        settings = self.settings
        tick = min(settings.ping_period, settings.idle_timeout, settings.pong_wait, 1.0)
        last_ping = time.monotonic()
        while not self.done.is_set():
            gevent.sleep(tick)
            now = time.monotonic()
            if self.closing_since is not None:
                if now - self.closing_since > CLOSE_WAIT_SECONDS:
                    self.done.set()
                continue
            if now - self.last_frame > settings.idle_timeout:
                self.close_both(CloseReason.GOING_AWAY, "idle timeout")
            elif now - self.last_pong > settings.ping_period + settings.pong_wait:
                self.close_both(CloseReason.GOING_AWAY, "pong not received")
            elif now - last_ping >= settings.ping_period:
                last_ping = now
                self.client.send(Ping(payload=KEEPALIVE))


def relayed_message(event: Message) -> Message:
    kind = TextMessage if isinstance(event, TextMessage) else BytesMessage
    return kind(
        data=event.data,
        frame_finished=event.frame_finished,
        message_finished=event.message_finished,
    )
