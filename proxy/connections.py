"""Upstream connections: head and body written together (one send, one segment), idempotent
requests sent again when a kept-alive connection turns out dead, and no connection into a
network of GATEWAY_UPSTREAM_DENY."""

from __future__ import annotations

from http.client import BadStatusLine
from http.client import HTTPResponse as HTTPClientResponse
from typing import Any

from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3 import PoolManager, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ProtocolError
from urllib3.util.ssl_ import create_urllib3_context

from gateway_project.upstream_deny import DenyListMixin, UpstreamAddressDenied

__all__ = ["IDEMPOTENT_METHODS", "UpstreamAddressDenied", "new_pool_manager"]

BYTES_LIKE = (bytes, bytearray, memoryview)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A kept-alive connection the upstream closed (or filled with stray bytes) while it idled in
# the pool: RemoteDisconnected is a BadStatusLine. Timeouts are not among these.
DEAD_CONNECTION_ERRORS = (BadStatusLine, ConnectionResetError, BrokenPipeError)
STALE_RETRIES = 2
# The read buffer of an upstream answer (http.client's is 8 KB): a response head and a streamed
# event fit; larger bodies are read past it. Each open stream holds one (bench/README.md).
RESPONSE_BUFFER_SIZE = 2048


class HeadWithBodyMixin:
    """Holds back the request head while a body follows and prepends it to the body's first
    write. urllib3 writes them apart: on loopback each write is a trip through the kernel's
    network stack (the costliest call of a proxied POST in bench/results/profile-top.txt)."""

    _hold_head = False
    _held_head: bytes | None = None

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **kw: Any):
        self._hold_head = body is not None
        try:
            super().request(method, url, body, headers, **kw)  # type: ignore[misc]
        finally:
            self._hold_head = False
        held, self._held_head = self._held_head, None
        if held:  # the body turned out empty: the head goes alone
            super().send(held)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        if self._hold_head and isinstance(data, bytes):
            self._hold_head, self._held_head = False, data
            return
        held, self._held_head = self._held_head, None
        if held and isinstance(data, BYTES_LIKE):
            data = held + bytes(data)
        elif held:
            super().send(held)  # type: ignore[misc]
        super().send(data)  # type: ignore[misc]


class SmallBufferResponse(HTTPClientResponse):
    """http.client's response reading through a RESPONSE_BUFFER_SIZE buffer."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(_SmallMakefile(sock), *args, **kwargs)


class _SmallMakefile:
    """The socket as http.client's response opens it: its file gets the smaller buffer."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def makefile(self, mode: str) -> Any:
        return self._sock.makefile(mode, RESPONSE_BUFFER_SIZE)


class UpstreamHTTPConnection(DenyListMixin, HeadWithBodyMixin, HTTPConnection):
    response_class = SmallBufferResponse


class UpstreamHTTPSConnection(DenyListMixin, HeadWithBodyMixin, HTTPSConnection):
    response_class = SmallBufferResponse


class StaleConnection(BadStatusLine):
    """A reused connection failed before an answer arrived: the upstream had dropped it."""


class StaleRetryMixin:
    """Sends an idempotent request again on another connection when a pooled, kept-alive one
    fails before answering (the upstream closed it while it idled, as servers do after their
    keep-alive timeout, or on restart). A connection opened for the request is never retried
    here, nor a non-idempotent request: the upstream may have acted on it."""

    def _make_request(self, conn: Any, method: str, url: str, *args: Any, **kw: Any) -> Any:
        reused = conn.sock is not None
        try:
            return super()._make_request(conn, method, url, *args, **kw)  # type: ignore[misc]
        except DEAD_CONNECTION_ERRORS as exc:
            if reused and method in IDEMPOTENT_METHODS:
                raise StaleConnection(repr(exc)) from exc
            raise

    def urlopen(self, method: str, url: str, *args: Any, **kw: Any) -> Any:
        for _ in range(STALE_RETRIES):
            try:
                return super().urlopen(method, url, *args, **kw)  # type: ignore[misc]
            except ProtocolError as exc:
                if not isinstance(exc.args[-1], StaleConnection):
                    raise
        return super().urlopen(method, url, *args, **kw)  # type: ignore[misc]


class UpstreamHTTPConnectionPool(StaleRetryMixin, HTTPConnectionPool):
    ConnectionCls = UpstreamHTTPConnection


class UpstreamHTTPSConnectionPool(StaleRetryMixin, HTTPSConnectionPool):
    ConnectionCls = UpstreamHTTPSConnection


def verifying_context() -> Any:
    """TLS as requests verifies it: certificates against certifi's bundle, loaded once per
    process rather than once per connection."""
    context = create_urllib3_context()
    context.load_verify_locations(DEFAULT_CA_BUNDLE_PATH)
    return context


def new_pool_manager(
    *,
    proxy_url: str | None = None,
    proxy_headers: dict[str, str] | None = None,
    ssl_context: Any = None,
) -> PoolManager:
    """The process's upstream pools, one per scheme, host and port: connections that write
    head and body together, send idempotent requests again on a dead kept-alive connection and
    refuse denied networks. urllib3 directly, without requests' per-request preparation and
    response building (see bench/README.md). With `proxy_url`, the pools of an egress proxy
    (proxy.transports); `ssl_context` toward the targets (default: certifi's bundle)."""
    options: dict[str, Any] = {
        "num_pools": 64,
        "maxsize": 512,
        "block": False,
        "cert_reqs": "CERT_REQUIRED",
        "ssl_context": ssl_context or verifying_context(),
    }
    if proxy_url is not None:
        pools: PoolManager = ProxyManager(
            proxy_url,
            proxy_headers=proxy_headers,
            proxy_ssl_context=verifying_context(),
            **options,
        )
    else:
        pools = PoolManager(**options)
    pools.pool_classes_by_scheme = {
        "http": UpstreamHTTPConnectionPool,
        "https": UpstreamHTTPSConnectionPool,
    }
    return pools
