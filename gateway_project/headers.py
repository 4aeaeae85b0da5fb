"""Header names both planes know: hop-by-hop ones, the gateway's key headers, client addresses."""

from __future__ import annotations

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
# Where a client's address travels; never sent to a third-party provider.
CLIENT_ADDRESS_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
