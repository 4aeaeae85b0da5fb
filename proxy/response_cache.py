"""The response cache's side of an LLM request (DESIGN: the lookup after pre_request, the store
at settle): the chain's cache plugins asked once pre_request ran, a kept answer replayed through
the response stages as an upstream's answer (as JSON, or as OpenAI chunks, as the request asks),
the upstream's answer kept for them (a stream's only once it ended whole), and the embeddings
call a semantic lookup makes through the rule's own targets and adapters."""

from __future__ import annotations

import functools
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import orjson
from django.http import HttpRequest
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPResponse

from plugins.pipeline import CompiledChain
from plugins.sdk.cache import CacheHit, StoredAnswer
from plugins.sdk.context import RequestContext, ResponseContext
from plugins.sdk.sse import DONE, SSEError, SSEParser
from proxy.inbound import ProxyError
from proxy.llm.exchange import LLMExchange
from proxy.llm.usage import MAX_JSON_BODY, merge_usage, parse_json, settle_usage
from proxy.llm.wire import CHAT, EMBEDDINGS
from proxy.matching import RouteMatch
from proxy.streaming import is_event_stream, response_context_of
from proxy.upstream import (
    UpstreamAddressDenied,
    UpstreamResult,
    UpstreamTimeout,
    UpstreamUnavailable,
    send,
)

logger = logging.getLogger(__name__)

MAX_KEPT_BYTES = MAX_JSON_BODY  # an answer (a stream's events) kept for the store, at most
MAX_EMBEDDING_ANSWER = 4 * 1024 * 1024


def cached_result(
    match: RouteMatch, context: RequestContext, llm: LLMExchange | None, client: HttpRequest
) -> UpstreamResult | None:
    """A kept answer to the request, read like an upstream's answer (None: ask the provider).
    Chat requests of rules whose chain has a response cache only; the lookup never fails the
    request (its plugins turn their errors into misses)."""
    chain: CompiledChain = match.route.chain
    if llm is None or llm.endpoint != CHAT or not chain.cache_plugins:
        return None
    embed = functools.partial(embedding, match, context, client)
    for plugin in chain.cache_plugins:
        try:
            plugin.cache_lookup(context, embed)
        except CacheHit as hit:
            context.verdicts.append((plugin.name, "cache_lookup", "answer"))
            return replayed(hit.answer, context, llm)
        context.verdicts.append((plugin.name, "cache_lookup", "continue"))
    return None


class Replayed(UpstreamResult):
    """A kept answer as an upstream result: no target, no connection, no time upstream."""

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.response.close()


def replayed(answer: StoredAnswer, context: RequestContext, llm: LLMExchange) -> Replayed:
    """The answer in the form asked (JSON, or `chat.completion.chunk` events when `stream`,
    the usage chunk when `stream_options.include_usage`); the call's usage is the kept
    answer's, its cost 0 (what the provider call cost is saved)."""
    body = context.json_body()
    completion = answer.completion
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        data = completion_events(completion, include_usage)
        content_type = "text/event-stream; charset=utf-8"
    else:
        data, content_type = orjson.dumps(completion), "application/json"
    usage: dict[str, int] = {}
    merge_usage(usage, completion)
    call = llm.call
    settle_usage(call, usage, None)
    call.cost, call.saved_cost = 0.0, answer.cost
    headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
    response = HTTPResponse(
        io.BytesIO(data), headers, status=200, reason="OK", preload_content=False
    )
    return Replayed(response, None, 0.0, None)  # type: ignore[arg-type]


def completion_events(completion: dict[str, Any], include_usage: bool) -> bytes:
    """A `chat.completion` as the events of its stream: per choice the role, the content, each
    tool call and the finish reason; the usage chunk when asked; `[DONE]`."""
    head = {
        "id": completion.get("id", ""),
        "object": "chat.completion.chunk",
        "created": completion.get("created", 0),
        "model": completion.get("model", ""),
    }
    if "system_fingerprint" in completion:
        head["system_fingerprint"] = completion["system_fingerprint"]
    tail = {"usage": None} if include_usage else {}

    def event(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**head, "choices": [choice], **tail}) + b"\n\n"

    out = bytearray()
    for choice in completion.get("choices") or []:
        index, message = choice.get("index", 0), choice.get("message") or {}
        out += event(index, {"role": message.get("role", "assistant"), "content": ""})
        if message.get("content"):
            out += event(index, {"content": message["content"]})
        if message.get("refusal"):
            out += event(index, {"refusal": message["refusal"]})
        for position, tool_call in enumerate(message.get("tool_calls") or []):
            out += event(index, {"tool_calls": [{"index": position, **tool_call}]})
        out += event(index, {}, choice.get("finish_reason") or "stop")
    if include_usage:
        usage = {**head, "choices": [], "usage": completion.get("usage")}
        out += b"data: " + orjson.dumps(usage) + b"\n\n"
    return bytes(out) + b"data: " + DONE.encode() + b"\n\n"


class AnswerKeeper:
    """The upstream's answer as it came (translated to OpenAI's shapes, before any response
    plugin), read for the chain's cache plugins; `store` hands it over as a whole
    `chat.completion` when it is one (a stream: when it finished, with `[DONE]`)."""

    def __init__(self, chain: CompiledChain, context: RequestContext, event_stream: bool) -> None:
        self.plugins = chain.cache_plugins
        self.context = context
        self.event_stream = event_stream
        self.data = bytearray()
        self.overflow = False

    def feed(self, chunk: bytes) -> None:
        if self.overflow or len(self.data) + len(chunk) > MAX_KEPT_BYTES:
            self.overflow, self.data = True, bytearray()
            return
        self.data += chunk

    def wrap(self, transform: Callable[[bytes], bytes] | None) -> Callable[[bytes], bytes]:
        """`transform` (the chunk hooks and the meter), after the keeper saw the chunk."""

        def kept(chunk: bytes) -> bytes:
            self.feed(chunk)
            return transform(chunk) if transform is not None else chunk

        return kept

    def store(self) -> None:
        if self.overflow:
            return
        data = bytes(self.data)
        completion = assembled(data) if self.event_stream else whole_completion(data)
        if completion is None:
            return
        llm = self.context.llm
        # A stream whose usage chunk the client did not ask for: the usage the meter read.
        if not isinstance(completion.get("usage"), dict) and llm and llm.total_tokens is not None:
            completion["usage"] = {
                "prompt_tokens": llm.prompt_tokens or 0,
                "completion_tokens": llm.completion_tokens or 0,
                "total_tokens": llm.total_tokens,
            }
        for plugin in self.plugins:
            try:
                plugin.cache_store(self.context, completion)
            except Exception:  # a cache that cannot keep an answer never fails the request
                logger.exception("plugin %s could not keep an answer", plugin.name)


def answer_keeper(
    chain: CompiledChain,
    context: RequestContext,
    llm: LLMExchange | None,
    result: UpstreamResult,
    response_context: ResponseContext,
) -> AnswerKeeper | None:
    """A keeper of the upstream's answer to a chat request on a rule with a response cache: a
    successful one in plain JSON or events (never a kept answer replayed, an error, or an
    encoding the keeper would have to decode)."""
    if llm is None or llm.endpoint != CHAT or not chain.cache_plugins:
        return None
    headers = response_context.headers
    if isinstance(result, Replayed) or response_context.status != 200:
        return None
    if headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    return AnswerKeeper(chain, context, is_event_stream(headers))


def whole_completion(data: bytes) -> dict[str, Any] | None:
    completion = parse_json(data)
    if not isinstance(completion, dict) or completion.get("object") != "chat.completion":
        return None
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices:
        return None
    if not all(isinstance(c, dict) and c.get("finish_reason") for c in choices):
        return None
    return completion


def assembled(data: bytes) -> dict[str, Any] | None:
    """The `chat.completion` of a stream's events; None unless it ended with `[DONE]` after a
    finish reason for every choice, without an error event."""
    parser = SSEParser()
    try:
        events = parser.feed(data) + parser.finish()
    except SSEError:
        return None
    completion: dict[str, Any] = {}
    choices: dict[int, dict[str, Any]] = {}
    done = False
    for event in events:
        if event.data == DONE:
            done = True
            continue
        chunk = event.json()
        if not isinstance(chunk, dict) or "error" in chunk or done:
            return None
        if not completion:
            completion = {"id": chunk.get("id", ""), "object": "chat.completion"}
            completion["created"] = chunk.get("created", 0)
            completion["model"] = chunk.get("model", "")
            if chunk.get("system_fingerprint") is not None:
                completion["system_fingerprint"] = chunk["system_fingerprint"]
        if isinstance(chunk.get("usage"), dict):
            completion["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not _merge_choice(choices, choice):
                return None
    if not done or not choices or not all(c["finish_reason"] for c in choices.values()):
        return None
    completion["choices"] = [_finished(index, choices[index]) for index in sorted(choices)]
    return completion


def _merge_choice(choices: dict[int, dict[str, Any]], choice: Any) -> bool:
    """Add one chunk's delta of a choice (its text, refusal and tool calls appended)."""
    if not isinstance(choice, dict) or not isinstance(choice.get("index", 0), int):
        return False
    delta = choice.get("delta") or {}
    if not isinstance(delta, dict):
        return False
    kept = choices.setdefault(
        choice.get("index", 0),
        {"role": "assistant", "content": "", "refusal": "", "tools": {}, "finish_reason": None},
    )
    if isinstance(delta.get("role"), str):
        kept["role"] = delta["role"]
    for name in ("content", "refusal"):
        if isinstance(delta.get(name), str):
            kept[name] += delta[name]
    for call in delta.get("tool_calls") or []:
        if not isinstance(call, dict) or not isinstance(call.get("index"), int):
            return False
        tool = kept["tools"].setdefault(
            call["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        function = call.get("function") or {}
        tool["id"] = call.get("id") or tool["id"]
        tool["function"]["name"] = function.get("name") or tool["function"]["name"]
        tool["function"]["arguments"] += function.get("arguments") or ""
    if choice.get("finish_reason"):
        kept["finish_reason"] = choice["finish_reason"]
    return True


def _finished(index: int, kept: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": kept["role"], "content": kept["content"] or None}
    if kept["refusal"]:
        message["refusal"] = kept["refusal"]
    if kept["tools"]:
        message["tool_calls"] = [kept["tools"][index] for index in sorted(kept["tools"])]
    return {
        "index": index,
        "message": message,
        "logprobs": None,
        "finish_reason": kept["finish_reason"],
    }


def embedding(
    match: RouteMatch, context: RequestContext, client: HttpRequest, model: str, text: str
) -> list[float] | None:
    """The vector of `text` from a target of the rule serving `model`, asked through the LLM
    exchange (the provider's adapter, credentials and timeouts) as an embeddings request of
    the gateway's own; None when no target serves it or the call fails in any way."""
    route = match.route
    if route.llm is None or not route.llm.serves(model):
        return None
    request = RequestContext(
        request_id=context.request_id,
        method="POST",
        path="/v1/embeddings",
        query_string="",
        headers=CaseInsensitiveDict({"Content-Type": "application/json"}),
        body=json.dumps({"model": model, "input": text}).encode(),
        client_ip=context.client_ip,
        gateway_id=context.gateway_id,
        rule_id=context.rule_id,
        api_key_id=context.api_key_id,
    )
    exchange = LLMExchange(route.llm, EMBEDDINGS, model)
    targets = [t for t in route.balancer.attempts(route.retry_attempts, model) if model in t.models]
    build = functools.partial(exchange.build, match, request, client=client)
    try:
        result = send(route.balancer, targets, build)
    except (UpstreamTimeout, UpstreamUnavailable, UpstreamAddressDenied, ProxyError):
        logger.warning("embedding for the response cache failed (request %s)", context.request_id)
        return None
    try:
        response_context = response_context_of(result.response, False)
        exchange.answer(result, response_context)
        data = response_context.body
        if data is None:
            data = result.response.read(MAX_EMBEDDING_ANSWER, decode_content=True)
    except Exception:
        logger.warning("embedding answer unreadable (request %s)", context.request_id)
        return None
    finally:
        result.close()
    return _vector(response_context.status, parse_json(data or b""))


def _vector(status: int, answer: Any) -> list[float] | None:
    try:
        vector = answer["data"][0]["embedding"] if status == 200 else None
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(vector, list) or not vector:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vector):
        return None
    return vector
