"""One proxied request, phase by phase: read `handle_proxy_request` top to bottom."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Generator

from django.http import HttpRequest, HttpResponse

from gateway_project.bounded_json import JSONTooDeep
from gateway_project.conf import gateway_settings
from gateway_project.responses import json_error
from gateways.path_normalization import UnsafePath, normalize_path, raw_request_path
from plugins.base import PluginRejection, PluginResponse, RequestContext, ResponseContext
from plugins.pipeline import PRE_AUTH, CompiledChain, PluginFailure, run_stage, transform_chunk
from proxy.client_ip import client_ip
from proxy.inbound import (
    ProxyError,
    authenticate,
    match_rule,
    preflight_method,
    read_body,
    request_id_of,
    resolve_gateway,
)
from proxy.matching import RouteMatch
from proxy.observation import RequestRecord, observed, upstream_answered
from proxy.outgoing import build_outgoing, client_headers, strip_hop_by_hop
from proxy.streaming import (
    buffer_body,
    buffered_response,
    finish_response,
    response_context_of,
    should_buffer,
    streamed_response,
    upstream_chunks,
)
from proxy.upstream import (
    UpstreamAddressDenied,
    UpstreamResult,
    UpstreamTimeout,
    UpstreamUnavailable,
    send,
)

logger = logging.getLogger(__name__)


def handle_proxy_request(request: HttpRequest, subdomain: str) -> HttpResponse:
    """The phases of a proxied request, in order; any of them may end it with an answer."""
    record = new_record(request)
    context: RequestContext | None = None
    try:
        path = normalize_path(raw_request_path(request.META))
        snapshot = resolve_gateway(subdomain)
        record.gateway, record.gateway_id = snapshot.subdomain, snapshot.id
        preflight = preflight_method(request)
        match = match_rule(snapshot, path, request.method, preflight)
        chain = match.route.chain
        context = new_context(request, record, path, snapshot.id, match)
        if preflight is not None and chain.has(PRE_AUTH):
            run_stage(chain, PRE_AUTH, context)  # cors answers the preflight (no key needed)
        context.api_key_id = authenticate(snapshot, match.route, context.headers)
        context.body = read_body(request)
        record.bytes_in = len(context.body)
        run_stage(chain, "pre_request", context)
        result = send_upstream(request, match, context)  # builds the request per target
        upstream_answered(record, result)
        response = respond(chain, context, result, record.started)
    except PluginResponse as answer:
        response = plugin_response(context, answer)
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
        logger.exception("proxy error (request %s)", record.request_id)
        response = json_error(500, "internal server error")
    response["X-Request-ID"] = record.request_id
    response["X-Trace-ID"] = record.request_id  # TrustGate's name for it
    return observed(response, record, context)  # metrics, access log, rollup (streams: at the end)


def new_record(request: HttpRequest) -> RequestRecord:
    """What observability learns of the request; the phases fill it in."""
    return RequestRecord(
        started=time.perf_counter(),
        request_id=request_id_of(request),
        method=request.method,
        path=request.path,
        client_ip=client_ip(
            request.META.get("REMOTE_ADDR", ""),
            request.META.get("HTTP_X_FORWARDED_FOR"),
            gateway_settings.TRUSTED_PROXIES,
            real_ip=request.META.get("HTTP_X_REAL_IP"),
        ),
    )


def new_context(
    request: HttpRequest, record: RequestRecord, path: str, gateway_id: str, match: RouteMatch
) -> RequestContext:
    """The request as plugins see it; its API key and body are added once authenticated."""
    context = RequestContext(
        request_id=record.request_id,
        method=request.method,
        path=path,
        query_string=request.META.get("QUERY_STRING", ""),
        headers=strip_hop_by_hop(client_headers(request)),
        body=b"",
        client_ip=record.client_ip,
        gateway_id=gateway_id,
        rule_id=match.route.id,
        path_params=match.params,
    )
    record.rule = match.route.id
    record.verdicts, record.findings = context.verdicts, context.findings
    return context


def send_upstream(
    request: HttpRequest, match: RouteMatch, context: RequestContext
) -> UpstreamResult:
    """Send, retrying on other targets as the rule allows; each attempt is built for its target."""
    route = match.route
    build = functools.partial(build_outgoing, match, context, client=request)
    try:
        return send(route.balancer, route.retry_attempts + 1, build)
    except UpstreamTimeout as exc:
        raise ProxyError(504, "upstream timed out") from exc
    except UpstreamUnavailable as exc:
        raise ProxyError(502, "upstream unreachable") from exc
    except UpstreamAddressDenied as exc:
        raise ProxyError(502, "upstream address not allowed") from exc


def respond(
    chain: CompiledChain, context: RequestContext, result: UpstreamResult, started: float
) -> HttpResponse:
    """post_request, pre_response, the body (buffered, or streamed through the chunk hooks),
    post_response (after the last chunk when streamed)."""
    response_context = response_context_of(result.response)
    try:
        run_stage(chain, "post_request", context, response_context)
        if should_buffer(chain, response_context.headers):
            buffer_body(result, response_context)
            run_stage(chain, "pre_response", context, response_context)
            run_stage(chain, "post_response", context, response_context)
            response = buffered_response(response_context)
        else:
            response_context.streamed = True
            run_stage(chain, "pre_response", context, response_context)
            body = stream_body(chain, context, response_context, result)
            response = streamed_response(body, result, response_context, bool(chain.chunk_plugins))
    except Exception:  # a plugin refused, or anything else: the upstream is done with
        result.close()
        raise
    return finish_response(response, result, response_context, context, started)


def stream_body(
    chain: CompiledChain,
    context: RequestContext,
    response_context: ResponseContext,
    result: UpstreamResult,
) -> Generator[bytes, None, None]:
    """The streamed body, each chunk through the chunk hooks; post_response once it is sent
    whole (a refusal then can only be logged)."""
    hooks = functools.partial(transform_chunk, chain, context) if chain.chunk_plugins else None
    if not (yield from upstream_chunks(result, context.request_id, hooks)):
        return
    try:
        run_stage(chain, "post_response", context, response_context)
    except (PluginRejection, PluginFailure):
        logger.warning(
            "post_response plugin refused a streamed response after it was sent (request %s)",
            context.request_id,
        )


def plugin_response(context: RequestContext | None, answer: PluginResponse) -> HttpResponse:
    """A plugin answered the request itself (e.g. a CORS preflight); the upstream is not called."""
    response = HttpResponse(answer.body, status=answer.status)
    if not answer.body:
        del response["Content-Type"]
    for name, value in {**(context.response_headers if context else {}), **answer.headers}.items():
        response[name] = value
    return response
