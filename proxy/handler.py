"""The proxy request flow: resolve, match, authenticate, run plugins, forward, stream back."""

from __future__ import annotations

import logging
import time
import uuid

from django.http import HttpRequest, HttpResponse
from requests.structures import CaseInsensitiveDict

from gateway_project.bounded_json import JSONTooDeep
from gateway_project.conf import gateway_settings
from gateway_project.request_body import BodyReadTimeout, BodyTooLarge, read_limited
from gateway_project.responses import json_error
from gateways.path_normalization import UnsafePath, normalize_path, raw_request_path
from keys.secrets import hash_secret
from keys.selectors import api_key_verify
from plugins.base import PluginRejection, RequestContext
from plugins.pipeline import PluginFailure, run_stage
from proxy.client_ip import client_ip
from proxy.matching import MethodNotAllowed, RouteMatch, match_route
from proxy.outgoing import (
    API_KEY_HEADERS,
    apply_headers,
    client_headers,
    forwarded_headers,
    strip_hop_by_hop,
)
from proxy.snapshot import GatewaySnapshot, Route, snapshots
from proxy.streaming import build_response
from proxy.upstream import UpstreamAddressDenied, UpstreamTimeout, UpstreamUnavailable, send

logger = logging.getLogger(__name__)

MAX_REQUEST_ID_LENGTH = 128


class ProxyError(Exception):
    """Ends a proxied request with a JSON error."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def request_id_of(request: HttpRequest) -> str:
    sent = request.META.get("HTTP_X_REQUEST_ID", "")
    if sent and len(sent) <= MAX_REQUEST_ID_LENGTH and sent.isprintable():
        return sent
    return uuid.uuid4().hex


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


def resolve(subdomain: str, path: str, method: str) -> tuple[GatewaySnapshot, RouteMatch]:
    snapshot = snapshots.get(subdomain)
    if snapshot is None or not snapshot.active:
        raise ProxyError(404, "Gateway not found")
    try:
        match = match_route(snapshot.routes, path, method)
    except MethodNotAllowed as exc:
        raise ProxyError(405, "method not allowed", {"Allow": ", ".join(exc.allowed)}) from exc
    if match is None:
        raise ProxyError(404, "no matching rule found")
    return snapshot, match


def authenticate(
    snapshot: GatewaySnapshot, route: Route, headers: CaseInsensitiveDict
) -> str | None:
    """The verified API key id (None on public rules); key headers never go upstream."""
    secret = take_presented_key(snapshot, headers)
    if route.public:
        return None
    if secret is None:
        raise ProxyError(401, "API key required")
    key = api_key_verify(keys=snapshot.keys, presented=secret)
    if key is None:
        raise ProxyError(401, "invalid API key")
    return key.id


def read_body(request: HttpRequest) -> bytes:
    """The whole body, within MAX_BODY_BYTES (413) and BODY_READ_TIMEOUT (408)."""
    limit = gateway_settings.MAX_BODY_BYTES
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit:
        raise ProxyError(413, f"request body larger than {limit} bytes")
    try:
        return read_limited(request, limit)
    except BodyTooLarge as exc:
        raise ProxyError(413, str(exc)) from exc
    except BodyReadTimeout as exc:
        raise ProxyError(408, str(exc)) from exc


def handle_proxy_request(request: HttpRequest, subdomain: str) -> HttpResponse:
    started = time.perf_counter()
    request_id = request_id_of(request)
    context: RequestContext | None = None
    try:
        path = normalize_path(raw_request_path(request.META))
        snapshot, match = resolve(subdomain, path, request.method)
        headers = strip_hop_by_hop(client_headers(request))
        api_key_id = authenticate(snapshot, match.route, headers)
        context = RequestContext(
            request_id=request_id,
            method=request.method,
            path=path,
            query_string=request.META.get("QUERY_STRING", ""),
            headers=headers,
            body=read_body(request),
            client_ip=client_ip(
                request.META.get("REMOTE_ADDR", ""),
                request.META.get("HTTP_X_FORWARDED_FOR"),
                gateway_settings.TRUSTED_PROXIES,
            ),
            gateway_id=snapshot.id,
            rule_id=match.route.id,
            api_key_id=api_key_id,
            path_params=match.params,
        )
        response = forward(request, match, context, started)
    except ProxyError as exc:
        response = json_error(exc.status, exc.message, headers=exc.headers)
    except (UnsafePath, JSONTooDeep) as exc:
        response = json_error(400, str(exc))
    except PluginRejection as exc:
        headers = {**(context.response_headers if context else {}), **exc.headers}
        response = json_error(exc.status, exc.message, headers=headers, retry_after=exc.retry_after)
    except PluginFailure:
        response = json_error(500, "plugin execution failed")
    except Exception:
        logger.exception("proxy error (request %s)", request_id)
        response = json_error(500, "internal server error")
    response["X-Request-ID"] = request_id
    return response


def forward(
    request: HttpRequest, match: RouteMatch, context: RequestContext, started: float
) -> HttpResponse:
    route = match.route
    run_stage(route.chain, "pre_request", context)
    short_circuit = context.metadata.get("short_circuit")
    if short_circuit:
        return _short_circuit_response(context, *short_circuit)
    outgoing = context.headers
    host = request.META.get("HTTP_HOST", "")
    if not route.preserve_host:
        outgoing.pop("Host", None)
    forwarded_headers(
        outgoing,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        scheme=request.scheme,
        host=host,
        request_id=context.request_id,
    )
    apply_headers(outgoing, route.headers)
    timeouts = (
        route.connect_timeout or gateway_settings.CONNECT_TIMEOUT,
        route.read_timeout or gateway_settings.READ_TIMEOUT,
    )
    try:
        result = send(
            route=route, match=match, request=context, headers=outgoing, timeouts=timeouts
        )
    except UpstreamTimeout as exc:
        raise ProxyError(504, "upstream timed out") from exc
    except UpstreamUnavailable as exc:
        raise ProxyError(502, "upstream unreachable") from exc
    except UpstreamAddressDenied as exc:
        raise ProxyError(502, "upstream address not allowed") from exc
    return build_response(route.chain, context, result, started)


def _short_circuit_response(
    context: RequestContext, status: int, headers: dict, body: bytes
) -> HttpResponse:
    """A plugin answered the request itself (e.g. a CORS preflight); the upstream is not called."""
    response = HttpResponse(body, status=status)
    if not body:
        del response["Content-Type"]
    for name, value in {**context.response_headers, **headers}.items():
        response[name] = value
    return response
