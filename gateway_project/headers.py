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
# Credentials, in lower case: the gateway's key headers (the proxy takes them out before plugins
# run) and bearer or proxy credentials left for the upstream; never content to inspect.
CREDENTIAL_HEADERS = frozenset(
    {*(name.lower() for name in API_KEY_HEADERS), "authorization", "proxy-authorization"}
)
# Where a client's address travels; never sent to a third-party provider.
CLIENT_ADDRESS_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
