"""A translated request's answer in OpenAI's shapes: a JSON answer whole (read within a bound),
a stream event by event as it arrives."""

from __future__ import annotations

import json
import logging
from typing import Any

from urllib3.exceptions import HTTPError

from gateway_project.bounded_json import JSONRefused, loads
from gateway_project.conf import gateway_settings
from plugins.sdk.context import ResponseContext
from proxy.llm.base import Adapter
from proxy.llm.streams import StreamTranslator
from proxy.llm.usage import FINISH_REASONS, finish_reasons
from proxy.llm.wire import CHAT, Call, Settle
from proxy.upstream import UpstreamResult

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 10 * 1024 * 1024
ENTITY_HEADERS = ("Content-Length", "Content-Encoding", "Content-Type")


def openai_answer(
    adapter: Adapter,
    call: Call,
    result: UpstreamResult,
    response_context: ResponseContext,
    settle: Settle,
) -> StreamTranslator | None:
    """The translator of a streamed answer; else the JSON answer is read and translated into
    `response_context.body` (None returned). The usage read goes to `settle`."""
    translator = stream_translator(adapter, call, response_context, settle)
    if translator is None:
        translate_answer(adapter, call, result, response_context, settle)
    return translator


def stream_translator(
    adapter: Adapter, call: Call, response_context: ResponseContext, settle: Settle
) -> StreamTranslator | None:
    """The translator of a streamed chat answer (the response's headers made an OpenAI
    stream's); None when the answer is not the stream asked for (an error, say)."""
    headers = response_context.headers
    if not call.stream or not 200 <= response_context.status < 300:
        return None
    if not headers.get("Content-Type", "").lower().startswith(adapter.stream_content_type):
        return None
    for name in ENTITY_HEADERS:
        headers.pop(name, None)
    headers["Content-Type"] = "text/event-stream; charset=utf-8"
    return adapter.chat_stream(call, settle)


def translate_answer(
    adapter: Adapter,
    call: Call,
    result: UpstreamResult,
    response_context: ResponseContext,
    settle: Settle,
) -> None:
    """Read the provider's answer and put its OpenAI form in `response_context.body`: a
    completion or embeddings list (its usage settled), or an OpenAI error."""
    try:
        raw = result.response.read(MAX_ANSWER_BYTES + 1, decode_content=True)
    except (OSError, HTTPError):  # the provider's answer broke off
        logger.warning("%s answer broke off", adapter.name, exc_info=True)
        raw = b""
    finally:
        result.close()
    data = _json(raw) if len(raw) <= MAX_ANSWER_BYTES else None
    status = response_context.status
    if 200 <= status < 300:
        answer = _translated(adapter, call, data)
        if answer is None:
            status, answer = 502, {"error": "upstream answer could not be translated"}
        else:
            if (usage := adapter.usage_in_headers(call, response_context.headers)) is not None:
                answer["usage"] = usage
            settle({**(answer.get("usage") or {}), FINISH_REASONS: finish_reasons(answer)})
    else:
        answer = adapter.error_answer(status, data, response_context.headers)
    headers = response_context.headers
    for name in ENTITY_HEADERS:
        headers.pop(name, None)
    headers["Content-Type"] = "application/json"
    response_context.status = status
    response_context.body = json.dumps(answer).encode()


def _translated(adapter: Adapter, call: Call, data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    try:
        if call.endpoint == CHAT:
            return adapter.chat_answer(data, call)
        return adapter.embeddings_answer(data, call)
    except (AttributeError, TypeError, KeyError, ValueError):  # not the provider's shape
        logger.warning("%s answer not in the provider's shape", adapter.name, exc_info=True)
        return None


def _json(raw: bytes) -> Any:
    try:
        return loads(raw, gateway_settings.MAX_JSON_DEPTH) if raw else None
    except (ValueError, JSONRefused):
        return None
