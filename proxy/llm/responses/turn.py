"""One Responses request through the exchange: the conversation it continues (loaded from the
store, scoped to the gateway and the API key), the provider request for each target (OpenAI's
and Azure's own Responses API, the chat adapters for the others), its answer in the Responses
shapes, kept in the store unless `store: false`; and the stored responses' own endpoints."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Any

from django.http import HttpResponse
from urllib3.exceptions import HTTPError

from gateway_project.bounded_json import JSONRefused, loads
from gateway_project.conf import gateway_settings
from plugins.sdk.context import RequestContext, ResponseContext
from proxy.inbound import ProxyError
from proxy.llm import answers
from proxy.llm.base import Adapter
from proxy.llm.responses import store
from proxy.llm.responses.answer import finished, output_of, response_object
from proxy.llm.responses.events import ResponsesRelay, ResponsesStream
from proxy.llm.responses.request import (
    chat_body,
    input_items,
    unsupported_on_chat,
)
from proxy.llm.streams import StreamTranslator
from proxy.llm.usage import merge_usage
from proxy.llm.wire import CHAT, Call, InvalidRequest, ProviderRequest, Settle, api_path, new_id
from proxy.upstream import UpstreamResult

logger = logging.getLogger(__name__)

RESPONSES = "responses"  # POST .../responses
STORED = "stored response"  # GET or DELETE .../responses/{id}, GET .../input_items
STORED_PATH = re.compile(r"/responses/([A-Za-z0-9_\-]{1,128})(/input_items)?$")
OWN_API = frozenset({"openai", "azure"})  # providers with a Responses API of their own


def responses_endpoint(method: str, path: str) -> str | None:
    if path.endswith("/responses") and method == "POST":
        return RESPONSES
    found = STORED_PATH.search(path)
    if found and (method == "GET" or (method == "DELETE" and not found.group(2))):
        return STORED
    return None


def scope_of(context: RequestContext) -> store.Scope:
    return store.Scope(context.gateway_id, context.api_key_id)


class ResponsesTurn:
    """A Responses request: `open` at the edge, `request` per target tried, `answer` once."""

    def __init__(self, context: RequestContext, body: dict[str, Any]) -> None:
        self.scope = scope_of(context)
        self.history: list[Any] = []
        previous = body.get("previous_response_id")
        if previous:
            stored = store.continued(self.scope, previous, len(context.body))
            self.history = stored.conversation
        self.body = body
        self.items: list[Any] = input_items(body)

    def request(self, adapter: Adapter, call: Call) -> tuple[ProviderRequest, Call]:
        """The provider request of `call` (the client's Responses body, maybe rewritten by
        plugins), and the call whose answer comes back."""
        self.body = dict(call.body)
        self.items = input_items(self.body)
        if adapter.name in OWN_API and call.options.api != "completions":
            return own_request(adapter, call, self.history + self.items), call
        if (field := unsupported_on_chat(self.body)) is not None:
            raise InvalidRequest(f"{field}: not supported by provider {adapter.name}")
        chat = chat_body(self.body, self.history + self.items)
        chat_call = dataclasses.replace(call, endpoint=CHAT, body=chat, raw=b"")
        return adapter.chat_request(chat_call), chat_call

    def answer(
        self,
        adapter: Adapter,
        call: Call,
        result: UpstreamResult,
        response_context: ResponseContext,
        settle: Settle,
    ) -> StreamTranslator | None:
        """The answer in the Responses shapes: a stream's translator (or relay), else the JSON
        answer whole in `response_context.body` (None returned)."""
        if call.endpoint == RESPONSES:  # the provider's own Responses API answered
            if call.stream and is_stream(response_context):
                return ResponsesRelay(call, settle, self.keep)
            own_answer(adapter, result, response_context, settle, self.keep)
            return None
        inner = answers.stream_translator(adapter, call, response_context, settle)
        if inner is not None:
            return ResponsesStream(inner, self.body, new_id("resp_"), self.keep)
        answers.translate_answer(adapter, call, result, response_context, settle)
        if 200 <= response_context.status < 300:
            completion = json.loads(response_context.body)
            output, finish_reason = output_of(completion)
            response = response_object(
                self.body, new_id("resp_"), call.model, output, completion.get("usage")
            )
            self.keep(finished(response, finish_reason))
            response_context.body = json.dumps(response).encode()
        return None

    def keep(self, response: dict[str, Any]) -> None:
        """Store a finished response (unless the request said `store: false`)."""
        if self.body.get("store", True) is False or not isinstance(response.get("id"), str):
            return
        try:
            store.save(self.scope, response, self.items, self.history)
        except Exception:  # the client has its answer; a continuation of it will be 404
            logger.warning("response %s could not be stored", response.get("id"), exc_info=True)


def own_request(adapter: Adapter, call: Call, items: list[Any]) -> ProviderRequest:
    """OpenAI's or Azure's Responses API: the client's body with the target's model (Azure's
    deployment) and the whole conversation as its input (the gateway keeps the state)."""
    body = {k: v for k, v in call.body.items() if k != "previous_response_id"}
    body["input"] = items if call.body.get("previous_response_id") else call.body["input"]
    if adapter.name == "azure":
        body["model"] = call.options.deployments.get(call.model, call.model)
        path = api_path(call.target, "", "/openai/v1/responses")
    else:
        body["model"] = call.model
        path = api_path(call.target, "/v1", "/responses")
    return ProviderRequest(path, json.dumps(body).encode())


def is_stream(response_context: ResponseContext) -> bool:
    content_type = response_context.headers.get("Content-Type", "").lower()
    return 200 <= response_context.status < 300 and content_type.startswith("text/event-stream")


def own_answer(
    adapter: Adapter,
    result: UpstreamResult,
    response_context: ResponseContext,
    settle: Settle,
    keep: Any,
) -> None:
    """OpenAI's own JSON answer, read within the bound: metered and kept; passed unchanged."""
    try:
        raw = result.response.read(answers.MAX_ANSWER_BYTES + 1, decode_content=True)
    except (OSError, HTTPError):
        raw = b""
    finally:
        result.close()
    try:
        data = loads(raw, gateway_settings.MAX_JSON_DEPTH) if raw else None
    except (ValueError, JSONRefused):
        data = None
    headers = response_context.headers
    for name in answers.ENTITY_HEADERS:
        headers.pop(name, None)
    headers["Content-Type"] = "application/json"
    if not 200 <= response_context.status < 300:
        response_context.body = json.dumps(
            adapter.error_answer(response_context.status, data, headers)
        ).encode()
    elif not isinstance(data, dict) or len(raw) > answers.MAX_ANSWER_BYTES:
        response_context.status = 502
        response_context.body = json.dumps({"error": "upstream answer could not be read"}).encode()
    else:
        usage: dict[str, int] = {}
        merge_usage(usage, data)
        settle(usage)
        keep(data)
        response_context.body = raw


def stored_answer(context: RequestContext) -> HttpResponse:
    """GET .../responses/{id} (the response), .../input_items (its input, newest first) and
    DELETE .../responses/{id}, of this gateway and API key only (404 for any other)."""
    found = STORED_PATH.search(context.path)
    response_id, items = found.group(1), found.group(2)
    scope = scope_of(context)
    if context.method == "DELETE":
        if not store.delete(scope, response_id):
            raise ProxyError(404, store.NOT_FOUND, code="not_found")
        answer: Any = {"id": response_id, "object": "response.deleted", "deleted": True}
    else:
        try:
            stored = store.load(scope, response_id)
        except ProxyError as exc:
            raise ProxyError(404, exc.message, code="not_found") from None
        answer = stored.response
        if items:
            data = [
                {"id": new_id("msg_"), "type": "message", **item}
                if isinstance(item, dict) and "type" not in item
                else item
                for item in reversed(stored.input)
            ]
            first, last = (data[0], data[-1]) if data else ({}, {})
            answer = {
                "object": "list",
                "data": data,
                "first_id": first.get("id"),
                "last_id": last.get("id"),
                "has_more": False,
            }
    return HttpResponse(json.dumps(answer), content_type="application/json")
