"""One proxied request, phase by phase: read `handle_proxy_request` top to bottom."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Generator

from django.http import HttpRequest, HttpResponse

from gateway_project.bounded_json import JSONRefused
from gateway_project.conf import gateway_settings
from gateways.path_normalization import UnsafePath, normalize_path, raw_request_path
from observability.tracing.spans import start_trace
from plugins.pipeline import PRE_AUTH, CompiledChain, PluginFailure, run_stage, transform_chunk
from plugins.sdk.context import PluginRejection, PluginResponse, RequestContext, ResponseContext
from plugins.sdk.streams.channels import StreamCut
from plugins.sdk.streams.events import error_events
from plugins.sdk.streams.rewriter import StreamRewriter, cut_chunks, stream_rewriter
from proxy.client_ip import client_ip
from proxy.governance import admit
from proxy.host_guard import guard
from proxy.inbound import (
    ProxyError,
    authenticate,
    match_rule,
    preflight_method,
    read_body,
    request_context,
    request_id_of,
    resolve_gateway,
)
from proxy.llm.exchange import LLMExchange, open_exchange
from proxy.llm.streams import StreamTranslator
from proxy.matching import RouteMatch
from proxy.mcp.call import open_mcp_call
from proxy.mcp.jsonrpc import McpError, as_jsonrpc_error
from proxy.observation import RequestRecord, observed, upstream_answered
from proxy.outgoing import build_outgoing
from proxy.response_cache import AnswerKeeper, answer_keeper, cached_result
from proxy.responses import error_response, plugin_response, set_header_lines
from proxy.streaming import (
    BROKEN_MESSAGE,
    StreamBroken,
    buffer_body,
    buffered_response,
    finish_response,
    is_event_stream,
    response_context_of,
    should_buffer,
    streamed_response,
    upstream_chunks,
)
from proxy.upstream import (
    UpstreamAddressDenied,
    UpstreamBusy,
    UpstreamResult,
    UpstreamTimeout,
    UpstreamUnavailable,
    send,
)
from proxy.ws.handshake import asks_for_websocket
from proxy.ws.session import serve_websocket

logger = logging.getLogger(__name__)


def handle_proxy_request(request: HttpRequest, subdomain: str) -> HttpResponse:
    """The phases of a proxied request, in order; any of them may end it with an answer."""
    record = new_record(request)
    context: RequestContext | None = None
    security_headers: tuple[tuple[str, str], ...] = ()
    on_llm_route = False  # the gateway's own errors in OpenAI's shape, once the rule is known
    on_mcp_route = False  # the gateway's own errors in JSON-RPC's shape
    try:
        path = normalize_path(raw_request_path(request.META))
        snapshot = resolve_gateway(subdomain)
        record.gateway, record.gateway_id = snapshot.subdomain, snapshot.id
        record.trace = start_trace(request, path, snapshot.id, snapshot.telemetry, record.started)
        security_headers = guard(snapshot.security, request)  # 403 host, 301 to https
        preflight = preflight_method(request)
        match = match_rule(snapshot, path, request.method, preflight)
        chain = match.route.chain
        on_llm_route = match.route.llm is not None
        on_mcp_route = match.route.mcp is not None
        context = request_context(
            request, path, snapshot.id, match, record.request_id, record.client_ip
        )
        record.rule = match.route.id
        if record.trace is not None:
            context.trace = record.trace
            record.trace.routed(match.route.pattern.source)
        record.verdicts, record.findings = context.verdicts, context.findings
        if preflight is not None and chain.has(PRE_AUTH):
            run_stage(chain, PRE_AUTH, context)  # cors answers the preflight (no key needed)
        key = authenticate(snapshot, match.route, context.headers)  # and its rules
        context.api_key_id = key.id if key is not None else None
        context.body = read_body(request, context.headers)  # decoded: the body of record
        record.bytes_in = len(context.body)
        websocket = asks_for_websocket(request.META)
        llm = None if websocket else open_exchange(match.route.llm, context)  # provider targets
        admit(snapshot, match.route, key, llm, context)  # allowed models, budgets reserved
        mcp = open_mcp_call(match.route.mcp, match, snapshot.tools_of_keys, context)
        run_stage(chain, "pre_request", context)
        if mcp is not None:
            response = mcp.serve(request, chain, context)  # sessions, tools, calls
        elif websocket:
            response = serve_websocket(request, match, context)  # relayed until it closes
        elif llm is not None and (own := llm.own_answer(context)) is not None:
            response = own  # the model list, stored responses
        else:
            result = cached_result(match, context, llm, request)  # a kept answer, or None
            if result is None:
                result = send_upstream(request, match, context, llm)  # built per target tried
                upstream_answered(record, result)
            response = respond(chain, context, result, record.started, llm)
    except PluginResponse as answer:
        response = plugin_response(context, answer)
    except McpError as exc:
        response = exc.answer()
    except ProxyError as exc:
        response = error_response(
            exc.status,
            exc.message,
            openai=on_llm_route,
            headers=exc.headers,
            param=exc.param,
            code=exc.code,
        )
    except (UnsafePath, JSONRefused) as exc:
        response = error_response(400, str(exc), openai=on_llm_route)
    except PluginRejection as exc:
        headers = {**(context.response_headers if context else {}), **exc.headers}
        response = error_response(
            exc.status,
            exc.message,
            openai=on_llm_route,
            headers=headers,
            retry_after=exc.retry_after,
        )
    except PluginFailure as failure:
        response = error_response(500, failure.plugin.error_message, openai=on_llm_route)
    except Exception:
        logger.exception("proxy error (request %s)", record.request_id)
        response = error_response(500, "internal server error", openai=on_llm_route)
    if on_mcp_route:
        response = as_jsonrpc_error(response)
    ids = [("X-Request-ID", record.request_id), ("X-Trace-ID", record.request_id)]  # X-Trace-ID:
    # TrustGate's name for the request id; the security headers go over the upstream's.
    set_header_lines(response, [*ids, *security_headers])
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


def send_upstream(
    request: HttpRequest, match: RouteMatch, context: RequestContext, llm: LLMExchange | None
) -> UpstreamResult:
    """Send, retrying on other targets as the rule allows; each attempt is built for its target
    (translated for its provider on an LLM rule)."""
    route = match.route
    builder = build_outgoing if llm is None else llm.build
    balancer = route.balancer if llm is None else llm.balancer(route.balancer)
    build = functools.partial(builder, match, context, client=request)
    try:
        attempts = balancer.attempts(route.retry_attempts)
        if route.sessions is not None:
            return route.sessions.send(context, balancer, attempts, build, context.trace)
        return send(balancer, attempts, build, context.trace)
    except UpstreamBusy as exc:
        raise ProxyError(503, "upstream busy", {"Retry-After": str(exc.retry_after)}) from exc
    except UpstreamTimeout as exc:
        raise ProxyError(504, "upstream timed out") from exc
    except UpstreamUnavailable as exc:
        raise ProxyError(502, "upstream unreachable") from exc
    except UpstreamAddressDenied as exc:
        raise ProxyError(502, "upstream address not allowed") from exc


def respond(
    chain: CompiledChain,
    context: RequestContext,
    result: UpstreamResult,
    started: float,
    llm: LLMExchange | None = None,
) -> HttpResponse:
    """The provider's answer in OpenAI's shapes (translated LLM requests) before any plugin
    sees it, post_request, pre_response, the body (buffered, or streamed through the chunk
    hooks), post_response (after the last chunk when streamed)."""
    try:
        response_context = response_context_of(result.response, chain.inspects_answers)
        # A stream's translator, or the JSON answer translated whole (translated attempts).
        translator = llm.answer(result, response_context) if llm is not None else None
        keeper = answer_keeper(chain, context, llm, result, response_context)  # for the cache
        run_stage(chain, "post_request", context, response_context)
        untranslated = translator is None and response_context.body is None
        if untranslated and should_buffer(chain, response_context.headers):
            buffer_body(result, response_context)
        if response_context.body is not None:  # buffered, or a JSON answer translated whole
            if llm is not None:
                llm.meter_body(response_context.body)
            if keeper is not None:
                keeper.feed(response_context.body)  # the upstream's, before plugins change it
            run_stage(chain, "pre_response", context, response_context)
            run_stage(chain, "post_response", context, response_context)
            response = buffered_response(response_context)
            if keeper is not None:
                keeper.store()
        else:
            response_context.streamed = True
            run_stage(chain, "pre_response", context, response_context)
            rewriter = stream_rewriter(chain.stream_plugins, context, response_context)
            if rewriter is not None or translator is not None or chain.chunk_plugins:
                response_context.headers.pop("Content-Encoding", None)  # read decoded
            body = stream_body(
                chain, context, response_context, result, rewriter, translator, llm, keeper
            )
            rewritten = bool(chain.chunk_plugins or rewriter)
            response = streamed_response(body, result, response_context, rewritten)
    except Exception:  # a plugin refused, or anything else: the upstream is done with
        result.close()
        raise
    return finish_response(response, result, response_context, context, started)


def stream_body(
    chain: CompiledChain,
    context: RequestContext,
    response_context: ResponseContext,
    result: UpstreamResult,
    rewriter: StreamRewriter | None,
    translator: StreamTranslator | None = None,
    llm: LLMExchange | None = None,
    keeper: AnswerKeeper | None = None,
) -> Generator[bytes, None, None]:
    """The streamed body (a provider's stream translated first), each chunk through the chunk
    hooks (metered first for LLM usage), its text through the plugins' stream filters (a hook
    or a filter may cut it); post_response once it is sent whole (a refusal then can only be
    logged). An upstream that broke off ends it with an error event (see broken_ending). The
    `keeper` of a response cache sees each chunk first and stores the answer once it ended
    whole."""
    hooks = functools.partial(transform_chunk, chain, context) if chain.chunk_plugins else None
    meter = llm.stream_meter(context) if llm is not None else None
    if meter is not None:
        hooks = meter.wrap(hooks)
    if keeper is not None:
        hooks = keeper.wrap(hooks)
    decode = rewriter is not None or bool(chain.chunk_plugins)  # chunk hooks see plain bytes
    chunks = upstream_chunks(result, context.request_id, hooks, translator, decode=decode)
    if rewriter is not None:
        chunks = rewriter.rewrite(chunks)
    elif chain.chunk_plugins:
        chunks = cut_chunks(chunks, context, response_context)
    if context.trace is not None:
        chunks = context.trace.first_chunk(chunks)
    try:
        if not (yield from chunks):
            return
    except GeneratorExit:  # the client went away
        if meter is not None:
            meter.finish(cut=True)  # what was delivered
        raise
    except StreamBroken:
        if meter is not None:
            meter.finish(cut=True)  # what was delivered
        ending = broken_ending(response_context, translator, llm)
        if ending is None:
            raise
        yield ending
        raise StreamBroken(ended=True) from None
    if meter is not None:
        meter.finish()
    if keeper is not None:
        keeper.store()  # settled first: the answer's usage and cost are known
    try:
        run_stage(chain, "post_response", context, response_context)
    except (PluginRejection, PluginFailure):
        logger.warning(
            "post_response plugin refused a streamed response after it was sent (request %s)",
            context.request_id,
        )


def broken_ending(
    response_context: ResponseContext,
    translator: StreamTranslator | None,
    llm: LLMExchange | None,
) -> bytes | None:
    """The error event that ends a provider's stream broken off: OpenAI's for a translated
    one, the provider's own in passthrough (Anthropic's `event: error`, else OpenAI's shape); no
    `[DONE]`. None for any other body: its transfer is broken instead."""
    if translator is not None:
        return translator.fail(BROKEN_MESSAGE)
    if llm is None or not is_event_stream(response_context.headers):
        return None
    cut = StreamCut(BROKEN_MESSAGE, "upstream_error")
    return error_events(cut, anthropic=llm.call.provider == "anthropic", done=False)
