"""Amazon Bedrock's Converse and ConverseStream APIs, signed with SigV4 (botocore's signer),
the binary event stream decoded with botocore's parser."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from gateways.providers import PROVIDERS
from proxy.balancer import Target
from proxy.llm import bedrock_embeddings
from proxy.llm.base import Adapter
from proxy.llm.caps import (
    apart_cache_counts,
    cache_control_of,
    claude_budget,
    part_marks,
    single_answer,
    thinking_limits,
    with_details,
    with_reasoning,
)
from proxy.llm.parts import FILE, INPUT_AUDIO, audio_of, pdf_of
from proxy.llm.streams import StreamTranslator
from proxy.llm.wire import (
    EMBEDDINGS,
    JSON_TOOL,
    JSON_TOOL_DESCRIPTION,
    Call,
    InvalidRequest,
    ProviderRequest,
    Settle,
    arguments_of,
    choice,
    completion,
    conversation_required,
    data_url,
    image_url_of,
    json_schema_of,
    max_tokens_of,
    parts_of,
    stop_of,
    text_of,
    tool_call,
    usage_of,
)

FINISH_REASONS = PROVIDERS["bedrock"].finish_reasons
DOCUMENT_NAME_REFUSED = re.compile(r"[^A-Za-z0-9\s\-()\[\]]")
CACHE_FIELDS = PROVIDERS["bedrock"].cache_fields
# Claude's answer room beside a thinking budget when the client sets no max_tokens.
THINKING_ANSWER_TOKENS = 4096
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


def user_blocks(content: Any) -> list[dict[str, Any]]:
    blocks = []
    for part in parts_of(content):
        if part.get("type") == "text":
            blocks.append({"text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            inline = data_url(image_url_of(part))
            if inline is None or inline[0] not in IMAGE_FORMATS:
                raise InvalidRequest("provider bedrock takes images as png/jpeg/gif/webp data URLs")
            blocks.append(
                {"image": {"format": IMAGE_FORMATS[inline[0]], "source": {"bytes": inline[1]}}}
            )
        elif part.get("type") == FILE:
            data, name = pdf_of(part)
            document = {"format": "pdf", "name": document_name(name, len(blocks))}
            blocks.append({"document": {**document, "source": {"bytes": data}}})
        elif part.get("type") == INPUT_AUDIO:
            audio_format, data = audio_of(part)
            blocks.append({"audio": {"format": audio_format, "source": {"bytes": data}}})
        else:
            raise InvalidRequest(f"content parts of type {part.get('type')!r} are not supported")
    return blocks


def document_name(filename: str, index: int) -> str:
    """A document's name as Converse takes it (letters, digits, single spaces, hyphens,
    parentheses, brackets; unique in the request): the file name without its extension, else
    `document-<n>`; the block's place keeps it unique."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    name = " ".join(DOCUMENT_NAME_REFUSED.sub("-", stem).split())[:180]
    return f"{name} ({index})" if name else f"document-{index}"


def add(messages: list[dict[str, Any]], role: str, content: list[dict[str, Any]]) -> None:
    """Converse wants user and assistant turns to alternate: same-role messages are joined."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(content)
    else:
        messages.append({"role": role, "content": content})


def messages_of(body: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    system: list[dict[str, str]] = []
    messages: list[dict[str, Any]] = []
    for message in body["messages"]:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(cache_points([{"text": text_of(message.get("content"))}], message))
        elif role == "user":
            add(messages, "user", cache_points(user_blocks(message.get("content")), message))
        elif role == "assistant":
            blocks = [{"text": text}] if (text := text_of(message.get("content"))) else []
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                use = {"toolUseId": call.get("id", ""), "name": function.get("name", "")}
                blocks.append({"toolUse": {**use, "input": arguments_of(function)}})
            if blocks:  # an empty assistant message is left out
                add(messages, "assistant", cache_points(blocks, message))
        elif role == "tool":
            result = {
                "toolUseId": message.get("tool_call_id", ""),
                "content": [{"text": text_of(message.get("content"))}],
            }
            add(messages, "user", cache_points([{"toolResult": result}], message))
    conversation_required(messages)
    return system, messages


def cache_points(blocks: list[dict[str, Any]], message: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks of `message` with a cache point after each one marked for the prompt cache
    (`cache_control` on its part, or the message's own after its last block)."""
    content = message.get("content")
    if "cache_control" not in message and not (
        isinstance(content, list) and any("cache_control" in part for part in content)
    ):
        return blocks
    marks = part_marks(message, "messages")
    if len(marks) != len(blocks):  # one block of many parts, tool calls: the last mark
        marks = [None] * (len(blocks) - 1) + marks[-1:]
    out = []
    for block, mark in zip(blocks, marks, strict=False):
        out.append(block)
        if mark is not None:
            out.append(cache_point(mark))
    return out


def cache_point(mark: dict[str, str]) -> dict[str, Any]:
    """The cache point a `cache_control` mark asks for (its ttl kept)."""
    point = {"type": "default"}
    if "ttl" in mark:
        point["ttl"] = mark["ttl"]
    return {"cachePoint": point}


def tool_config_of(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = []
    for index, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") or {}
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        spec = {"name": function.get("name", ""), "inputSchema": {"json": schema}}
        if function.get("description"):
            spec["description"] = function["description"]
        tools.append({"toolSpec": spec})
        field = f"tools[{index}]"
        if mark := cache_control_of(tool, field) or cache_control_of(function, field):
            tools.append(cache_point(mark))
    user_tools = bool(tools)
    if (schema := json_schema_of(body)) is not None:
        spec = {"name": JSON_TOOL, "description": JSON_TOOL_DESCRIPTION}
        tools.append({"toolSpec": {**spec, "inputSchema": {"json": schema or {"type": "object"}}}})
        if not user_tools and not claude_budget(body):  # else beside the user tools
            return {"tools": tools, "toolChoice": {"tool": {"name": JSON_TOOL}}}
    if not tools:
        return None
    config: dict[str, Any] = {"tools": tools}
    chosen = body.get("tool_choice")
    if chosen == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(chosen, dict) and isinstance(chosen.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": chosen["function"].get("name", "")}}
    return config


def inference_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if (max_tokens := max_tokens_of(body)) is not None:
        config["maxTokens"] = max_tokens
    for name, key in (("temperature", "temperature"), ("top_p", "topP")):
        if isinstance(body.get(name), int | float):
            config[key] = body[name]
    if stop := stop_of(body):
        config["stopSequences"] = stop
    return config


def thinking_of(call: Call, body: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    """Claude's `thinking` (an additional model request field) for `reasoning_effort`, and the
    max tokens it needs; other models take no thinking budget (400 naming the field)."""
    budget = claude_budget(body)
    if not budget:
        return None
    if "anthropic.claude" not in call.model:
        raise InvalidRequest(
            f"reasoning_effort: not available for bedrock model {call.model}", "reasoning_effort"
        )
    budget, max_tokens = thinking_limits(budget, max_tokens_of(body), THINKING_ANSWER_TOKENS)
    return {"type": "enabled", "budget_tokens": budget}, max_tokens


def usage_from(usage: dict[str, Any]) -> dict[str, Any]:
    """Converse's usage in OpenAI's shape: the prompt tokens count those read from and written
    to the prompt cache (Bedrock counts them apart), in its details too."""
    counts = apart_cache_counts(usage, CACHE_FIELDS)
    cached, written = counts.get("cached_tokens", 0), counts.get("cache_write_tokens", 0)
    total = usage.get("totalTokens") if not (cached or written) else None
    prompt = usage.get("inputTokens")
    prompt = (prompt if isinstance(prompt, int) else 0) + cached + written
    return with_details(
        usage_of(prompt, usage.get("outputTokens"), total), cached=cached, cache_write=written
    )


def region_of(target: Target) -> str:
    region = target.credentials.get("aws_region")
    if region:
        return region
    host = target.base_url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")  # bedrock-runtime.<region>.amazonaws.com
    if len(parts) >= 3 and parts[0].startswith("bedrock"):
        return parts[1]
    raise InvalidRequest("the bedrock target has no aws_region")


class BedrockAdapter(Adapter):
    name = "bedrock"
    content_parts = frozenset({"text", "image_url", FILE, INPUT_AUDIO})
    stream_content_type = "application/vnd.amazon.eventstream"

    def chat_request(self, call: Call) -> ProviderRequest:
        body = dict(call.body)
        single_answer(body, self.name)
        system, messages = messages_of(body)
        out: dict[str, Any] = {"messages": messages}
        if system:
            out["system"] = system
        if config := inference_config(body):
            out["inferenceConfig"] = config
        if thinking := thinking_of(call, body):
            out["inferenceConfig"] = {**out.get("inferenceConfig", {}), "maxTokens": thinking[1]}
            out["additionalModelRequestFields"] = {"thinking": thinking[0]}
        if (tool_config := tool_config_of(body)) is not None:
            out["toolConfig"] = tool_config
        action = "converse-stream" if call.stream else "converse"
        return ProviderRequest(f"/model/{quote(call.model, safe='')}/{action}", out)

    def chat_answer(self, data: Any, call: Call) -> dict[str, Any]:
        message = (data.get("output") or {}).get("message") or {}
        texts, calls, thoughts = [], [], []
        for block in message.get("content") or []:
            if isinstance(block.get("reasoningContent"), dict):
                thoughts.append(
                    (block["reasoningContent"].get("reasoningText") or {}).get("text", "")
                )
            elif isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif (
                isinstance(block.get("toolUse"), dict) and block["toolUse"].get("name") == JSON_TOOL
            ):
                texts.append(json.dumps(block["toolUse"].get("input")))
            elif isinstance(block.get("toolUse"), dict):
                use = block["toolUse"]
                calls.append(
                    tool_call(use.get("toolUseId", ""), use.get("name", ""), use.get("input"))
                )
        finish = FINISH_REASONS.get(data.get("stopReason"), "stop")
        if finish == "tool_calls" and not calls:
            finish = "stop"  # the forced JSON tool answered
        usage = data.get("usage") or {}
        text = "".join(texts) if texts or not calls else None
        answer = completion(call, [choice(0, text, calls, finish)], usage_from(usage))
        with_reasoning(answer, 0, "".join(thoughts))
        return answer

    def chat_stream(self, call: Call, settle: Settle) -> BedrockStream:
        return BedrockStream(call, settle)

    def embeddings_request(self, call: Call) -> ProviderRequest:
        return bedrock_embeddings.embeddings_request(call)

    def embeddings_answer(self, data: Any, call: Call) -> dict[str, Any]:
        return bedrock_embeddings.embeddings_answer(data, call)

    def usage_in_headers(self, call: Call, headers: Any) -> dict[str, int] | None:
        """InvokeModel's token count (embeddings); Converse reports usage in its body."""
        return bedrock_embeddings.usage_in_headers(headers) if call.endpoint == EMBEDDINGS else None

    def error_answer(self, status: int, data: Any, headers: Any) -> dict[str, Any]:
        answer = super().error_answer(status, data, headers)
        kind = headers.get("x-amzn-ErrorType", "")
        if kind:
            answer["error"]["type"] = kind.split(":", 1)[0]
        return answer

    def sign(self, target: Target, url: str, headers: Any, body: bytes) -> None:
        """SigV4 with the target's AWS keys (Bedrock API keys go as a bearer token instead)."""
        credentials = target.credentials
        if not credentials.get("aws_access_key_id"):
            return
        request = AWSRequest(
            method="POST", url=url, data=body, headers={"Content-Type": headers["Content-Type"]}
        )
        signer = SigV4Auth(
            Credentials(
                credentials["aws_access_key_id"],
                credentials["aws_secret_access_key"],
                credentials.get("aws_session_token"),
            ),
            "bedrock",
            region_of(target),
        )
        signer.add_auth(request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in request.headers:
                headers[name] = request.headers[name]


class BedrockStream(StreamTranslator):
    """ConverseStream's binary event stream: messageStart, contentBlockStart (tool use),
    contentBlockDelta (text or tool input), messageStop (stop reason), metadata (usage)."""

    def __init__(self, call: Call, settle: Settle) -> None:
        super().__init__(call, settle)
        self.buffer = EventStreamBuffer()
        self.tools: dict[int, int] = {}  # content block index -> tool call index
        self.json_blocks: set[int] = set()

    def feed(self, data: bytes) -> bytes:
        self.buffer.add_data(data)
        return b"".join(self.message(message.headers, message.payload) for message in self.buffer)

    def finish(self) -> bytes:
        return self.close() if self.finish_reason is not None else b""

    def message(self, headers: dict[str, Any], payload: bytes) -> bytes:
        if self.closed:
            return b""
        if headers.get(":message-type") != "event":
            kind = headers.get(":exception-type") or headers.get(":error-code") or "upstream_error"
            try:
                message = json.loads(payload).get("message", "upstream error")
            except (ValueError, AttributeError):
                message = "upstream error"
            return self.fail(str(message), str(kind))
        data = json.loads(payload) if payload else {}
        return self.event(headers.get(":event-type"), data)

    def event(self, kind: Any, data: dict[str, Any]) -> bytes:
        if kind == "contentBlockDelta":
            delta = data.get("delta") or {}
            if isinstance(delta.get("text"), str):
                return self.start() + self.out.text(delta["text"])
            if isinstance(delta.get("reasoningContent"), dict):
                return self.start() + self.out.reasoning(delta["reasoningContent"].get("text", ""))
            block = data.get("contentBlockIndex")
            partial = (delta.get("toolUse") or {}).get("input", "")
            if block in self.json_blocks:
                return self.out.text(partial)
            if block in self.tools:
                return self.out.tool_arguments(self.tools[block], partial)
            return b""
        if kind == "contentBlockStart":
            use = (data.get("start") or {}).get("toolUse")
            if not isinstance(use, dict):
                return self.start()
            if use.get("name") == JSON_TOOL:
                self.json_blocks.add(data.get("contentBlockIndex"))
                return self.start()
            self.tools[data.get("contentBlockIndex")] = index = len(self.tools)
            return self.start() + self.out.tool_start(
                index, use.get("toolUseId", ""), use.get("name", "")
            )
        if kind == "messageStart":
            return self.start()
        if kind == "messageStop":
            reason = FINISH_REASONS.get(data.get("stopReason"), "stop")
            return self.end("stop" if reason == "tool_calls" and not self.tools else reason)
        if kind == "metadata":
            self.usage = usage_from(data.get("usage") or {})
            return self.close()
        return b""
