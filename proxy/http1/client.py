"""One request to an upstream origin: the head and body written in one send on a kept-alive
socket (or a new one), the answer's head parsed before it is returned; an idempotent request
is sent again when a kept-alive socket turns out dead before a byte of the answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import urllib3
from urllib3.exceptions import ProtocolError
from urllib3.util import Url

from proxy.connections import IDEMPOTENT_METHODS, STALE_RETRIES
from proxy.http1.pool import origin_of
from proxy.http1.response import Http1Response

USER_AGENT = f"python-urllib3/{urllib3.__version__}"  # what urllib3 sent when none was given


def send(
    method: str,
    url: Url,
    full_url: str,
    headers: Mapping[str, str],
    body: bytes,
    timeouts: tuple[float, float],
    tls: tuple[str, Any] | None = None,
) -> Http1Response:
    """Send `method` to `url` (parsed; `full_url` names it in errors) with exactly `headers`
    (a case-insensitive mapping; Host, Accept-Encoding and User-Agent added when missing, as
    http.client and urllib3 did) and `body`; `timeouts` are (connect, read) seconds.
    urllib3's errors: MaxRetryError when the origin cannot be reached, ProtocolError when the
    connection breaks or the answer is malformed, ReadTimeoutError when it is late. `tls`: a
    client TLS (its name, its SSLContext) instead of the default verification, kept apart."""
    origin = origin_of(url.scheme or "http", url.host or "", url.port, tls)
    data = request_head(method, url.request_uri, origin.host_header, headers)
    if body:
        data += body
    connect_timeout, read_timeout = timeouts
    retries = STALE_RETRIES
    while True:
        sock = origin.take()
        reused = sock is not None
        if sock is None:
            sock = origin.connect(connect_timeout, full_url)
        sock.settimeout(read_timeout)
        response = Http1Response(sock, origin, method, full_url)
        try:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # as urllib3: the upstream may have answered already; the read tells
            except OSError as exc:
                response.shutdown()
                raise ProtocolError("Connection aborted.", exc) from exc
            response.read_head()
        except ProtocolError:
            # The upstream dropped a kept-alive socket while it idled: sent again elsewhere.
            stale = reused and not response.received and method in IDEMPOTENT_METHODS
            if not stale or not retries:
                raise
            retries -= 1
            continue
        return response


def request_head(method: str, target: str, host: str, headers: Mapping[str, str]) -> bytes:
    """The request line and header lines. A CR or LF inside a name or value is refused
    (ValueError, as http.client refused it): it would split the head."""
    lines = [f"{method} {target} HTTP/1.1"]
    if "Host" not in headers:
        lines.append(f"Host: {host}")
    if "Accept-Encoding" not in headers:
        lines.append("Accept-Encoding: identity")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if "User-Agent" not in headers:
        lines.append(f"User-Agent: {USER_AGENT}")
    lines.append("\r\n")
    head = "\r\n".join(lines)
    if head.count("\n") != len(lines) or head.count("\r") != len(lines):
        raise ValueError("Invalid header: a name or value holds a line break")
    return head.encode("latin-1")
