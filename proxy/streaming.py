"""Turn the upstream's answer into the client's response: streamed as it arrives, or buffered
when response-stage plugins need the whole body."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator

from django.http import HttpResponse, StreamingHttpResponse
from requests.structures import CaseInsensitiveDict

from plugins.base import PluginRejection, RequestContext, ResponseContext
from plugins.pipeline import CompiledChain, PluginFailure, run_stage, transform_chunk
from proxy.outgoing import strip_hop_by_hop
from proxy.upstream import UpstreamResult

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
MAX_BUFFERED_BODY = 10 * 1024 * 1024


def is_event_stream(headers: CaseInsensitiveDict) -> bool:
    return headers.get("Content-Type", "").lower().startswith("text/event-stream")


def should_buffer(chain: CompiledChain, headers: CaseInsensitiveDict) -> bool:
    """Buffer only when body plugins run and the body is a bounded, non-streaming one."""
    if not (chain.has("pre_response") or chain.has("post_response")) or is_event_stream(headers):
        return False
    length = headers.get("Content-Length", "")
    return length.isdigit() and int(length) <= MAX_BUFFERED_BODY


def build_response(
    chain: CompiledChain, context: RequestContext, result: UpstreamResult, started: float
) -> HttpResponse:
    upstream = result.response
    response_context = ResponseContext(
        status=upstream.status_code, headers=strip_hop_by_hop(CaseInsensitiveDict(upstream.headers))
    )
    try:
        run_stage(chain, "post_request", context, response_context)
        if should_buffer(chain, response_context.headers):
            response = _buffered(chain, context, response_context, result)
        else:
            response = _streamed(chain, context, response_context, result)
    except Exception:  # a plugin refused, or anything else: the upstream is done with
        result.close()
        raise
    response.reason_phrase = upstream.reason or None
    _copy_headers(response, response_context.headers, context.response_headers)
    _copy_cookies(response, upstream.raw.headers.getlist("Set-Cookie"))
    upstream_ms = result.elapsed_ms
    response["X-Upstream-Latency-Ms"] = f"{upstream_ms:.2f}"
    response["X-Gateway-Latency-Ms"] = f"{(time.perf_counter() - started) * 1000 - upstream_ms:.2f}"
    return response


def _buffered(chain, context, response_context, result: UpstreamResult) -> HttpResponse:
    try:
        response_context.body = result.response.content  # decoded: plugins see plain text
    finally:
        result.close()
    response_context.headers.pop("Content-Encoding", None)
    response_context.headers.pop("Content-Length", None)
    run_stage(chain, "pre_response", context, response_context)
    run_stage(chain, "post_response", context, response_context)
    response_context.headers["Content-Length"] = str(len(response_context.body))
    return HttpResponse(response_context.body, status=response_context.status)


def _streamed(chain, context, response_context, result: UpstreamResult) -> StreamingHttpResponse:
    response_context.streamed = True
    run_stage(chain, "pre_response", context, response_context)
    if chain.chunk_plugins:
        response_context.headers.pop("Content-Length", None)
    body = UpstreamBody(_stream(chain, context, response_context, result), result)
    response = StreamingHttpResponse(body, status=response_context.status)
    if is_event_stream(response_context.headers):
        response["X-Accel-Buffering"] = "no"
        response["Cache-Control"] = response_context.headers.get("Cache-Control", "no-cache")
    return response


class UpstreamBody:
    """The streamed body. Django closes it when the response ends, read or not (a client gone
    before the first byte): the upstream connection and its in-flight count are freed then."""

    def __init__(self, chunks: Generator[bytes, None, None], result: UpstreamResult) -> None:
        self.chunks = chunks
        self.result = result

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def close(self) -> None:
        self.chunks.close()
        self.result.close()


def _stream(chain, context, response_context, result: UpstreamResult) -> Iterator[bytes]:
    """Forward each piece of the body as soon as it arrives; never the whole body at once."""
    raw = result.response.raw
    completed = False
    try:
        while True:
            chunk = raw.read1(READ_SIZE, decode_content=False)
            if not chunk:
                break
            yield transform_chunk(chain, context, chunk) if chain.chunk_plugins else chunk
        completed = True
    except Exception:
        logger.warning("upstream stream broke off (request %s)", context.request_id, exc_info=True)
    finally:
        result.close()
    if completed:
        _after_stream(chain, context, response_context)


def _after_stream(chain, context, response_context) -> None:
    try:
        run_stage(chain, "post_response", context, response_context)
    except (PluginRejection, PluginFailure):
        logger.warning(
            "post_response plugin refused a streamed response after it was sent (request %s)",
            context.request_id,
        )


def _copy_cookies(response: HttpResponse, set_cookies: list[str]) -> None:
    """Each upstream Set-Cookie becomes its own header again (requests folds them into one)."""
    for value in set_cookies:
        response.cookies.load(value)


def _copy_headers(
    response: HttpResponse, upstream_headers: CaseInsensitiveDict, extra: dict
) -> None:
    if "Content-Type" not in upstream_headers:
        del response["Content-Type"]
    for name, value in upstream_headers.items():
        if name.lower() != "set-cookie":  # folded into one by requests; see _copy_cookies
            response[name] = value
    for name, value in extra.items():
        if name.lower() == "vary" and response.has_header("Vary"):
            value = ", ".join(
                dict.fromkeys(v.strip() for v in f"{response['Vary']},{value}".split(","))
            )
        response[name] = value
