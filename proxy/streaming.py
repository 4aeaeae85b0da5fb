"""The client's response from the upstream's answer: buffered or streamed body, headers, timing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping

from requests.structures import CaseInsensitiveDict
from urllib3 import BaseHTTPResponse

from gateway_project.headers import end_to_end
from plugins.pipeline import CompiledChain
from plugins.sdk.context import RequestContext, ResponseContext
from plugins.sdk.streams.channels import StreamCut
from proxy.inbound import ProxyError
from proxy.llm.streams import StreamTranslator
from proxy.responses import ProxyResponse, StreamingProxyResponse
from proxy.upstream import UpstreamResult

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
MAX_BUFFERED_BODY = 10 * 1024 * 1024
BROKEN_MESSAGE = "upstream stream broke off before the end of the answer"


class StreamBroken(Exception):
    """The upstream's body broke off before its end (or a provider's stream ended unfinished).
    `ended`: the client's stream was ended with an error event; else its transfer is broken."""

    def __init__(self, ended: bool = False) -> None:
        super().__init__(BROKEN_MESSAGE)
        self.ended = ended


def is_event_stream(headers: CaseInsensitiveDict) -> bool:
    return headers.get("Content-Type", "").lower().startswith("text/event-stream")


def should_buffer(chain: CompiledChain, headers: CaseInsensitiveDict) -> bool:
    """Buffer only when body plugins run and the body is a bounded, non-streaming one."""
    if not (chain.has("pre_response") or chain.has("post_response")) or is_event_stream(headers):
        return False
    length = headers.get("Content-Length", "")
    return length.isdigit() and int(length) <= MAX_BUFFERED_BODY


def response_context_of(upstream: BaseHTTPResponse, inspected: bool) -> ResponseContext:
    """Status and end-to-end headers (repeated ones joined with ", "; Set-Cookie lines are
    passed on one by one in finish_response). An answer plugins must inspect (`inspected`) in
    an encoding the gateway cannot read is refused (502): never relayed uninspected."""
    encoding = unreadable_encoding(upstream.headers)
    if encoding is not None and inspected:
        raise ProxyError(
            502, f"upstream answered in an encoding the gateway cannot read: {encoding}"
        )
    headers = end_to_end(upstream.headers.itermerged(), upstream.headers.get("Connection", ""))
    return ResponseContext(status=upstream.status, headers=headers)


def unreadable_encoding(headers: Mapping[str, str]) -> str | None:
    """The answer's Content-Encoding when it names one urllib3 cannot decode, else None."""
    if "Content-Encoding" not in headers:  # most answers: no get() of an absent name (KeyError)
        return None
    encoding = headers["Content-Encoding"]
    names = [name.strip().lower() for name in encoding.split(",") if name.strip()]
    if all(name == "identity" or name in BaseHTTPResponse.CONTENT_DECODERS for name in names):
        return None
    return encoding


def buffer_body(result: UpstreamResult, response_context: ResponseContext) -> None:
    """Read the whole body into `response_context.body`, decoded: plugins see plain text. A
    compressed one is inflated read by read, 502 past MAX_BUFFERED_BODY (a bomb never whole)."""
    try:
        if "Content-Encoding" not in response_context.headers:
            response_context.body = result.response.read(decode_content=True)
        else:
            response_context.body = bounded_read(result.response, MAX_BUFFERED_BODY)
    finally:
        result.close()
    response_context.headers.pop("Content-Encoding", None)
    response_context.headers.pop("Content-Length", None)


def bounded_read(upstream: BaseHTTPResponse, limit: int) -> bytes:
    body = bytearray()
    while chunk := upstream.read1(READ_SIZE, decode_content=True):
        body += chunk
        if len(body) > limit:
            raise ProxyError(502, f"upstream answer larger than {limit} bytes decoded")
    return bytes(body)


def buffered_response(response_context: ResponseContext) -> ProxyResponse:
    response_context.headers["Content-Length"] = str(len(response_context.body))
    return ProxyResponse(
        response_context.body,
        status=response_context.status,
        content_type=response_context.headers.get("Content-Type"),  # Django's default unread
    )


def upstream_chunks(
    result: UpstreamResult,
    request_id: str,
    transform: Callable[[bytes], bytes] | None,
    translator: StreamTranslator | None = None,
    *,
    decode: bool = False,
) -> Generator[bytes, None, bool]:
    """Each piece of the body as soon as it arrives (decompressed when `decode`; first
    translated to OpenAI chunks when a provider's stream is, then through `transform`, whose
    StreamCut ends it), never the whole body at once; returns whether it was sent to the end.
    StreamBroken when the upstream's body broke off (or a translated stream ended unfinished)."""
    raw = result.response
    try:
        if translator is None:  # read here: one generator less on the stack while it waits
            while chunk := raw.read1(READ_SIZE, decode_content=decode):
                yield transform(chunk) if transform is not None else chunk
        else:
            for chunk in _translated(_reads(raw, True), translator):
                yield transform(chunk) if transform is not None else chunk
        return True
    except StreamCut:  # a chunk hook cut the stream: the caller ends it with its error
        raise
    except StreamBroken:
        logger.warning("upstream stream ended unfinished (request %s)", request_id)
        raise
    except Exception as exc:
        if translator is not None and translator.closed:  # its answer was whole, or an error
            return True
        logger.warning("upstream stream broke off (request %s)", request_id, exc_info=True)
        raise StreamBroken() from exc
    finally:
        result.close()


def streamed_response(
    body: Generator[bytes, None, None],
    result: UpstreamResult,
    response_context: ResponseContext,
    rewritten: bool,
) -> StreamingProxyResponse:
    """The streaming response; `rewritten`: chunk hooks may change the body's length."""
    if rewritten:
        response_context.headers.pop("Content-Length", None)
    upstream_body = UpstreamBody(body, result)
    response = StreamingProxyResponse(
        upstream_body,
        status=response_context.status,
        content_type=response_context.headers.get("Content-Type"),  # Django's default unread
    )
    response.upstream_body = upstream_body
    if is_event_stream(response_context.headers):
        response["X-Accel-Buffering"] = "no"
        response["Cache-Control"] = response_context.headers.get("Cache-Control", "no-cache")
    return response


def _reads(raw: BaseHTTPResponse, decode: bool) -> Iterator[bytes]:
    while chunk := raw.read1(READ_SIZE, decode_content=decode):
        yield chunk


def _translated(chunks: Iterator[bytes], translator: StreamTranslator) -> Iterator[bytes]:
    """The client's bytes of each upstream read (reads that complete no event give none)."""
    for chunk in chunks:
        if out := translator.feed(chunk):
            yield out
    if out := translator.finish():
        yield out
    if not translator.closed:  # the body ended before the provider finished its answer
        raise StreamBroken()


class UpstreamBody:
    """The streamed body. Django closes it when the response ends, read or not (a client gone
    before the first byte): the upstream connection and its in-flight count are freed then,
    and `on_close(bytes sent, broken)` runs once (observability). A body whose upstream broke
    off and that no error event ended breaks the client's transfer (no terminating chunk)."""

    def __init__(self, chunks: Generator[bytes, None, None], result: UpstreamResult) -> None:
        self.chunks = chunks
        self.result = result
        self.sent = 0
        self.broken = False
        self.on_close: Callable[[int, bool], None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.chunks:
                self.sent += len(chunk)
                yield chunk
        except StreamBroken as broken:
            self.broken = True
            if not broken.ended:
                raise ConnectionAbortedError(BROKEN_MESSAGE) from broken

    def close(self) -> None:
        try:
            self.chunks.close()
            self.result.close()
        finally:
            on_close, self.on_close = self.on_close, None
            if on_close is not None:
                on_close(self.sent, self.broken)


def finish_response(
    response: ProxyResponse | StreamingProxyResponse,
    result: UpstreamResult,
    response_context: ResponseContext,
    context: RequestContext,
    started: float,
) -> ProxyResponse | StreamingProxyResponse:
    """The upstream's reason, headers and cookies, the plugins' headers, the latency headers."""
    upstream = result.response
    response.reason_phrase = upstream.reason or None
    _copy_headers(response, response_context.headers, context.response_headers)
    _copy_cookies(response, upstream.headers.getlist("Set-Cookie"))
    upstream_ms = result.elapsed_ms
    gateway_ms = (time.perf_counter() - started) * 1000 - upstream_ms
    response.set_headers(
        [
            ("X-Upstream-Latency-Ms", f"{upstream_ms:.2f}"),
            ("X-Gateway-Latency-Ms", f"{gateway_ms:.2f}"),
        ]
    )
    return response


def _copy_cookies(response: ProxyResponse | StreamingProxyResponse, set_cookies: list[str]) -> None:
    """Each upstream Set-Cookie line is passed on as received, as its own header (a header
    mapping folds them into one; SimpleCookie would drop or rewrite attributes it does not
    know)."""
    for value in set_cookies:
        if not response.add_repeated_header("Set-Cookie", value):
            logger.warning("upstream Set-Cookie with control characters dropped")


def _copy_headers(
    response: ProxyResponse | StreamingProxyResponse,
    upstream_headers: CaseInsensitiveDict,
    extra: dict,
) -> None:
    """The upstream's lines but Set-Cookie, then the plugins' lines: in one batch when no
    plugin line may be a Vary (merged with the upstream's, so set on its own)."""
    if "Content-Type" not in upstream_headers:
        del response["Content-Type"]
    # The dict's own store: lowered name -> (name, value), read without a lookup per line.
    lines = [line for lower, line in upstream_headers._store.items() if lower != "set-cookie"]
    # Set-Cookie lines are folded into one there; see _copy_cookies
    if "vary" not in "\n".join(extra).lower():  # a name merely holding "vary" takes the loop
        lines += extra.items()
        response.set_headers(lines)
        return
    response.set_headers(lines)
    _set_plugin_headers(response, extra)


def _set_plugin_headers(response: ProxyResponse | StreamingProxyResponse, extra: dict) -> None:
    """The plugins' lines in order, a Vary merged with the one set before it."""
    lines = []
    for name, value in extra.items():
        if name.lower() != "vary":
            lines.append((name, value))
            continue
        response.set_headers(lines)  # the lines before it first, in order
        lines = []
        if response.has_header("Vary"):
            value = ", ".join(
                dict.fromkeys(v.strip() for v in f"{response['Vary']},{value}".split(","))
            )
        response[name] = value
    response.set_headers(lines)
