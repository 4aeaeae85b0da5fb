"""Build the upstream request: URL (path rules, params, query), headers and injected credentials."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.http import HttpRequest
from requests.structures import CaseInsensitiveDict

from gateway_project.bounded_json import loads
from gateway_project.conf import gateway_settings
from gateway_project.headers import copy_of
from gateways.path_normalization import (
    SUB_DELIMS,
    UnsafePath,
    normalize_path,
    normalized_base,
    within,
)
from gateways.paths import join_paths, substitute_params
from gateways.providers import PROVIDERS
from plugins.sdk.context import RequestContext
from proxy.balancer import Target
from proxy.matching import RouteMatch
from proxy.oauth2 import access_token

# Headers asking for part of an answer: plugins that inspect answers must see them whole.
PARTIAL_ANSWER_HEADERS = ("Range", "If-Range")
# The client's negotiation headers of a translated request are for the front, not the provider.
FRONT_HEADERS = ("Content-Length", "Content-Type", "Accept", "Accept-Encoding", "Authorization")


@dataclass(slots=True)
class OutgoingRequest:
    """What is sent to one target: exactly these bytes, no further merging."""

    method: str
    url: str
    headers: CaseInsensitiveDict
    body: bytes
    timeouts: tuple[float, float]  # (connect, read) seconds


@dataclass(frozen=True, slots=True)
class Translated:
    """What a provider translation changes in a target's request: the path and query under the
    target's base URL, the JSON body, the provider's headers and the Accept it answers, and the
    hook that signs the finished request."""

    path: str
    query: str
    body: bytes
    accept: str
    headers: Mapping[str, str]
    sign: Callable[[Target, str, CaseInsensitiveDict, bytes], None]


def build_outgoing(
    match: RouteMatch,
    context: RequestContext,
    target: Target,
    client: HttpRequest,
    translated: Translated | None = None,
) -> OutgoingRequest:
    """The request for `target` (built again for each target a retry picks), plain or provider,
    passed through or `translated`: the client's headers as plugins left them, forwarded
    headers or the provider's allow-list, the rule's then the target's headers, credentials and
    provider defaults; the upstream URL; the rule's timeouts."""
    headers = outgoing_headers(match, context, target, client)
    if translated is None:
        method, query = context.method, context.query_string
        path = upstream_path(target, match, context.path, match.route.strip_path)
        body = default_model(target, context.body)
    else:
        method, path, query, body = "POST", translated.path, translated.query, translated.body
        for name in FRONT_HEADERS:
            headers.pop(name, None)
        headers["Content-Type"] = "application/json"
        headers["Accept"] = translated.accept
        headers["Accept-Encoding"] = "identity"  # streams are translated as they are read
        headers.update(translated.headers)
    body = inject_credentials(target, headers, body)
    url = upstream_url(target, path, query)
    if translated is not None:
        translated.sign(target, url, headers, body)
    return OutgoingRequest(method, url, headers, body, route_timeouts(match.route))


def outgoing_headers(
    match: RouteMatch, context: RequestContext, target: Target, client: HttpRequest
) -> CaseInsensitiveDict:
    """The client's headers as plugins left them, forwarded headers, the rule's then the
    target's headers (credentials not yet). A provider target (a third party) gets only the
    client headers it takes (`Target.client_headers`) and the request id: never the client's
    cookies, credentials, address or SDK telemetry. A rule whose plugins inspect answers asks
    for them whole and uncompressed."""
    if target.provider:
        headers = CaseInsensitiveDict(
            {k: v for k, v in context.headers.items() if k.lower() in target.client_headers}
        )
        headers["X-Request-ID"] = context.request_id
    else:
        headers = copy_of(context.headers)
        if not match.route.preserve_host:
            headers.pop("Host", None)
        forwarded_headers(
            headers,
            remote_addr=client.META.get("REMOTE_ADDR", ""),
            scheme=client.scheme,
            host=client.META.get("HTTP_HOST", ""),
            request_id=context.request_id,
        )
    apply_headers(headers, match.route.headers)
    apply_headers(headers, target.headers)
    if match.route.chain.inspects_answers:
        ask_whole_answer(headers)  # no Range pieces, no compression to see past
    return headers


def ask_whole_answer(headers: CaseInsensitiveDict) -> None:
    """The upstream is asked for its whole answer, uncompressed (the client gets all of it,
    200 rather than 206): what plugins inspect is then what the client receives."""
    for name in PARTIAL_ANSWER_HEADERS:
        headers.pop(name, None)
    headers["Accept-Encoding"] = "identity"


def route_timeouts(route: Any) -> tuple[float, float]:
    """(connect, read) seconds: the rule's service's, else the gateway's defaults."""
    return (
        route.connect_timeout or gateway_settings.CONNECT_TIMEOUT,
        route.read_timeout or gateway_settings.READ_TIMEOUT,
    )


def upstream_path(target: Target, match: RouteMatch, request_path: str, strip_path: bool) -> str:
    """Target path with `{params}` filled in, plus the client path (or, with strip_path, only
    the part the rule's trailing `/*` matched).

    `request_path` is the normalised path the rule matched; the result is normalised again, so
    no dot segment is left for the HTTP client to resolve (the bytes sent are the path
    returned), and must stay under the target's base path (else UnsafePath)."""
    base = substitute_params(target.path, match.params)
    rest = match.rest if strip_path else request_path
    path = normalize_path(quote(join_paths(base, rest), safe="/%" + SUB_DELIMS))
    if not within(path, normalized_base(static_prefix(target.path))):
        raise UnsafePath("the path leaves the target's base path")
    return path


def static_prefix(template: str) -> str:
    """The part of a target path before its first `{param}` segment."""
    if "{" not in template:
        return template
    prefix = template.split("{", 1)[0]
    return prefix[: prefix.rfind("/") + 1]


def upstream_url(target: Target, path: str, query_string: str) -> str:
    query = query_string
    credentials = target.credentials
    if credentials.get("param_name") and credentials.get("param_location", "query") == "query":
        extra = urlencode({credentials["param_name"]: credentials["param_value"]})
        query = f"{query}&{extra}" if query else extra
    return target.base_url + path + (f"?{query}" if query else "")


def request_json(body: bytes) -> Any:
    """A request body parsed as JSON within MAX_JSON_DEPTH (JSONTooDeep past it, DuplicateKey
    on a repeated key)."""
    return loads(body, gateway_settings.MAX_JSON_DEPTH)


def inject_credentials(target: Target, headers: CaseInsensitiveDict, body: bytes) -> bytes:
    """Add the target's credentials (OAuth2 token, header, API key or JSON body parameter);
    returns the body."""
    credentials = target.credentials
    if target.oauth is not None:  # TokenUnavailable when none can be had
        headers["Authorization"] = f"Bearer {access_token(target.oauth)}"
    if credentials.get("header_name"):
        headers[credentials["header_name"]] = credentials["header_value"]
    if target.provider:
        provider = PROVIDERS[target.provider]
        for name, value in provider.extra_headers.items():
            headers.setdefault(name, value)
        if credentials.get("api_key"):
            headers[provider.auth_header] = provider.auth_value(credentials["api_key"])
    if credentials.get("param_name") and credentials.get("param_location") == "body":
        body = _with_json_field(body, credentials["param_name"], credentials["param_value"])
    return body


def _with_json_field(body: bytes, name: str, value: str) -> bytes:
    try:
        data = request_json(body) if body else {}
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    data[name] = value
    return json.dumps(data).encode()


def default_model(target: Target, body: bytes) -> bytes:
    """For LLM provider targets: a missing or unknown `model` becomes the target's default."""
    if not target.provider or not body:
        return body
    try:
        data = request_json(body)
    except ValueError:
        return body
    if isinstance(data, dict) and data.get("model") not in target.models:
        data["model"] = target.default_model
        return json.dumps(data).encode()
    return body


def forwarded_headers(
    headers: CaseInsensitiveDict, *, remote_addr: str, scheme: str, host: str, request_id: str
) -> None:
    prior = headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{prior}, {remote_addr}" if prior else remote_addr
    headers["X-Forwarded-Proto"] = scheme
    headers["X-Forwarded-Host"] = host
    headers["X-Request-ID"] = request_id


def apply_headers(headers: CaseInsensitiveDict, extra: Mapping[str, str]) -> None:
    for name, value in extra.items():
        headers[name] = value
