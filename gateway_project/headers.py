"""Header names both planes know: hop-by-hop ones, the gateway's key headers, client addresses."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from requests.structures import CaseInsensitiveDict

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
API_KEY_HEADERS = ("X-TG-API-Key", "X-API-Key")
# Credentials, in lower case: the gateway's key headers (the proxy takes them out before plugins
# run) and bearer or proxy credentials left for the upstream; never content to inspect.
CREDENTIAL_HEADERS = frozenset(
    {*(name.lower() for name in API_KEY_HEADERS), "authorization", "proxy-authorization"}
)
# Where a client's address travels; never sent to a third-party provider.
CLIENT_ADDRESS_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def strip_hop_by_hop(headers: CaseInsensitiveDict) -> CaseInsensitiveDict:
    """Remove hop-by-hop headers, including those named in Connection."""
    for name in connection_named(headers.get("Connection", "")):
        headers.pop(name, None)
    for name in [name for name in headers if name.lower() in HOP_BY_HOP]:
        del headers[name]
    return headers


def end_to_end(pairs: Iterable[tuple[str, str]], connection: str) -> CaseInsensitiveDict:
    """The headers of `pairs` without the hop-by-hop ones and those `connection` (the Connection
    header's value) names: strip_hop_by_hop of a copy, in one pass."""
    left_out = not_end_to_end(connection)
    store = {}
    for name, value in pairs:
        lowered = name.lower()
        if lowered not in left_out:
            store[lowered] = (name, value)
    return headers_over(store)


def headers_over(store: dict[str, tuple[str, str]]) -> CaseInsensitiveDict:
    """A CaseInsensitiveDict whose store is `store` (lower-case name: (name, value), the layout
    of requests.structures), made without a method call per header (~2 k instructions each)."""
    headers = CaseInsensitiveDict.__new__(CaseInsensitiveDict)
    headers._store = store
    return headers


def copy_of(headers: CaseInsensitiveDict | Mapping[str, str]) -> CaseInsensitiveDict:
    """A copy of `headers` (requests' own copy() sets each header again); any other mapping a
    plugin may have put in their place is copied header by header."""
    if type(headers) is not CaseInsensitiveDict:
        return CaseInsensitiveDict(headers)
    return headers_over(dict(headers._store))


@functools.lru_cache(maxsize=256)
def not_end_to_end(connection: str) -> frozenset[str]:
    """The hop-by-hop header names and those a Connection header's value lists, in lower case
    (clients send a handful of Connection values: worked out once each)."""
    return HOP_BY_HOP | connection_named(connection)


def connection_named(connection: str) -> frozenset[str] | set[str]:
    """The header names, in lower case, a Connection header's value lists."""
    if not connection:
        return frozenset()
    return {name.strip().lower() for name in connection.split(",") if name.strip()}
