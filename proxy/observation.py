"""Where a proxied request ends for observability: metrics, access log and rollup, once.

A buffered answer is observed when the orchestrator returns it; a streamed one when its body
is closed (sent whole, broken off or abandoned), counted meanwhile in `gateway_active_streams`
(written with the worker's other pending counts).
"""

from __future__ import annotations

import functools

from django.http import HttpResponse

from observability.metrics import pending
from observability.observe import RequestRecord, observe
from plugins.sdk.context import RequestContext
from proxy.governance import settle
from proxy.streaming import UpstreamBody
from proxy.upstream import UpstreamResult

__all__ = ["RequestRecord", "observed", "upstream_answered"]


def upstream_answered(record: RequestRecord, result: UpstreamResult) -> None:
    record.upstream_ms = result.elapsed_ms
    record.target_key = result.target.key


def observed(
    response: HttpResponse, record: RequestRecord, context: RequestContext | None
) -> HttpResponse:
    """Observe `response` now, or at the end of its stream."""
    record.status = response.status_code
    body = getattr(response, "upstream_body", None)
    if isinstance(body, UpstreamBody):
        pending.open_streams += 1
        body.on_close = functools.partial(_stream_ended, record, context)
    else:
        record.bytes_out = 0 if response.streaming else len(response.content)
        _finish(record, context)
    return response


def _stream_ended(
    record: RequestRecord, context: RequestContext | None, sent: int, broken: bool
) -> None:
    pending.open_streams -= 1
    record.bytes_out = sent
    record.stream = "broken" if broken else "complete"
    _finish(record, context)


def _finish(record: RequestRecord, context: RequestContext | None) -> None:
    settle(context, answered=bool(record.target_key), status=record.status)  # budgets, spend
    if context is not None:  # read last: post_response may have added the LLM usage
        record.api_key_id, record.llm = context.api_key_id, context.llm
        record.tool_call = context.tool_call
        if record.tool_call is not None:
            record.tool_call.settled(record.status)
    if record.trace is not None:
        record.trace.finish(record.status, record.rule, context, record.stream)
    observe(record)
