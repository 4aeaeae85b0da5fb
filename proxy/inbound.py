"""The client's side of a proxied request: gateway, rule, request id, API key, body."""

from __future__ import annotations

import functools
import os

from django.http import HttpRequest
from requests.structures import CaseInsensitiveDict

from gateway_project.conf import gateway_settings
from gateway_project.headers import API_KEY_HEADERS, end_to_end
from gateway_project.request_body import (
    DECHUNKED,
    BodyReadTimeout,
    BodyTooLarge,
    InvalidEncoding,
    UnsupportedEncoding,
    decode_body,
    read_limited,
)
from keys.secrets import hash_secret
from keys.selectors import VerifiedKey, api_key_verify
from plugins.pipeline import PRE_AUTH
from plugins.sdk.context import RequestContext
from proxy.matching import MethodNotAllowed, RouteMatch, match_route
from proxy.snapshot import GatewaySnapshot, Route, snapshots

MAX_REQUEST_ID_LENGTH = 128


class ProxyError(Exception):
    """Ends a proxied request with a JSON error (in OpenAI's shape on LLM routes, where `param`
    and `code` may name the field and the error; see proxy.responses.error_response)."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.param = param
        self.code = code


def request_id_of(request: HttpRequest) -> str:
    """The client's X-Request-ID when it is short and printable, else 128 random bits as 32
    lowercase hex characters (a uuid4's hex shape without its UUID object)."""
    sent = request.META.get("HTTP_X_REQUEST_ID", "")
    if sent and len(sent) <= MAX_REQUEST_ID_LENGTH and sent.isprintable():
        return sent
    return os.urandom(16).hex()


def preflight_method(request: HttpRequest) -> str | None:
    """The method a CORS preflight asks for (Access-Control-Request-Method), else None."""
    if request.method != "OPTIONS" or "HTTP_ORIGIN" not in request.META:
        return None
    asked = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    return asked.strip().upper() if asked is not None else None


def resolve_gateway(subdomain: str) -> GatewaySnapshot:
    snapshot = snapshots.get(subdomain)
    if snapshot is None or not snapshot.active:
        raise ProxyError(404, "Gateway not found")
    return snapshot


def match_rule(
    snapshot: GatewaySnapshot, path: str, method: str, preflight: str | None
) -> RouteMatch:
    """The rule for path and method (404, or 405 with Allow).

    A CORS preflight is protocol, not a route: it takes the rule of the method it asks for
    (`preflight`) when that rule's chain answers preflights (a pre_auth plugin such as cors),
    else it is matched as the OPTIONS request it is."""
    if preflight is not None:
        try:
            match = match_route(snapshot.routes, path, preflight)
        except MethodNotAllowed:
            match = None
        if match is not None and match.route.chain.has(PRE_AUTH):
            return match
    try:
        match = match_route(snapshot.routes, path, method)
    except MethodNotAllowed as exc:
        raise ProxyError(405, "method not allowed", {"Allow": ", ".join(exc.allowed)}) from exc
    if match is None:
        raise ProxyError(404, "no matching rule found")
    return match


def bearer_token(authorization: str) -> str | None:
    if authorization[:7].lower() == "bearer " and authorization[7:].strip():
        return authorization[7:].strip()
    return None


def take_presented_key(snapshot: GatewaySnapshot, headers: CaseInsensitiveDict) -> str | None:
    """Remove every API key the client sent from `headers` (none may reach the upstream);
    returns the one to verify: X-TG-API-Key, else X-API-Key, else `Authorization: Bearer`.

    A bearer token beside a key header is left for the upstream unless it is a key of this
    gateway (or repeats the key): clients may pass their own upstream credentials that way."""
    secrets = [headers.pop(name).strip() for name in API_KEY_HEADERS if name in headers]
    secrets = [secret for secret in secrets if secret]
    bearer = bearer_token(headers.get("Authorization", ""))
    if bearer and (not secrets or bearer in secrets or hash_secret(bearer) in snapshot.keys):
        del headers["Authorization"]
        secrets.append(bearer)
    return secrets[0] if secrets else None


def authenticate(
    snapshot: GatewaySnapshot, route: Route, headers: CaseInsensitiveDict
) -> VerifiedKey | None:
    """The verified API key (None on public rules), if it may use the rule (its policies);
    key headers never go upstream."""
    secret = take_presented_key(snapshot, headers)
    if route.public:
        return None
    if secret is None:
        raise ProxyError(401, "API key required")
    key = api_key_verify(keys=snapshot.keys, presented=secret)
    if key is None:
        raise ProxyError(401, "invalid API key")
    if not key.may_use(route.id):  # TrustGate E2: a rule outside the key's policies
        raise ProxyError(401, "unauthorized")
    return key


def read_body(request: HttpRequest, headers: CaseInsensitiveDict) -> bytes:
    """The whole body, within MAX_BODY_BYTES (413) and BODY_READ_TIMEOUT (408), decoded from
    its Content-Encoding within MAX_BODY_BYTES too: plugins inspect, and the upstream gets, the
    decoded body (`headers` follow: no Content-Encoding). An encoding the gateway cannot decode
    is 415, a body that is not what its encoding says 400."""
    limit = gateway_settings.MAX_BODY_BYTES
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit:
        raise ProxyError(413, f"request body larger than {limit} bytes")
    try:
        body = read_limited(request, limit)
        if "Content-Encoding" in headers:
            body = decode_body(body, headers.pop("Content-Encoding"), limit)
            if "Content-Length" in headers:
                headers["Content-Length"] = str(len(body))
        return body
    except BodyTooLarge as exc:
        raise ProxyError(413, str(exc)) from exc
    except BodyReadTimeout as exc:
        raise ProxyError(408, str(exc)) from exc
    except UnsupportedEncoding as exc:
        raise ProxyError(415, str(exc)) from exc
    except InvalidEncoding as exc:
        raise ProxyError(400, str(exc)) from exc


def client_headers(request: HttpRequest) -> CaseInsensitiveDict:
    """The client's end-to-end request headers from the WSGI environ (no Content-Length for a
    chunked body: the client declared none; the upstream request gets one from the body)."""
    meta = request.META
    pairs = [
        (name, value)
        for key, value in meta.items()
        if key not in NOT_HEADERS
        and (name := environ_header_name(key)) is not None
        and (value or key[0] == "H")
    ]
    headers = end_to_end(pairs, meta.get("HTTP_CONNECTION", ""))
    if meta.get(DECHUNKED):
        del headers["Content-Length"]
    return headers


# The WSGI and CGI keys of every request's environ (gunicorn's too): never a header, skipped
# without environ_header_name's lookup.
NOT_HEADERS = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "RAW_URI",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "wsgi.version",
        "wsgi.url_scheme",
        "wsgi.input",
        "wsgi.errors",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
        "wsgi.file_wrapper",
        "wsgi.input_terminated",
        "wsgi.early_hints",
        "gunicorn.socket",
    }
)


@functools.lru_cache(maxsize=1024)
def environ_header_name(key: str) -> str | None:
    """The header name of a WSGI environ key (`HTTP_X_API_KEY`: `X-Api-Key`; CONTENT_TYPE and
    CONTENT_LENGTH, which carry no HTTP_ prefix), else None; worked out once per key."""
    if key.startswith("HTTP_"):
        return key[5:].replace("_", "-").title()
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key.replace("_", "-").title()
    return None


def request_context(
    request: HttpRequest, path: str, gateway_id: str, match: RouteMatch, request_id: str, ip: str
) -> RequestContext:
    """The request as plugins see it; its API key and body are added once authenticated."""
    return RequestContext(
        request_id=request_id,
        method=request.method,
        path=path,
        query_string=request.META.get("QUERY_STRING", ""),
        headers=client_headers(request),
        body=b"",
        client_ip=ip,
        gateway_id=gateway_id,
        rule_id=match.route.id,
        path_params=match.params,
    )
