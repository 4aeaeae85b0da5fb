"""Google's Gemini API: `generateContent`, `streamGenerateContent?alt=sse`, embeddings."""

from __future__ import annotations

import json
import mimetypes
from typing import Any
from urllib.parse import quote

from gateways.providers import PROVIDERS
from plugins.sdk.sse import SSEEvent
from proxy.llm.base import Adapter
from proxy.llm.caps import answers_asked, reasoning_budget, with_details, with_reasoning
from proxy.llm.parts import AUDIO_TYPES, FILE, INPUT_AUDIO, PDF, audio_of, pdf_of
from proxy.llm.streams import SSETranslator
from proxy.llm.wire import (
    Call,
    InvalidRequest,
    ProviderRequest,
    Settle,
    api_path,
    arguments_of,
    choice,
    completion,
    conversation_required,
    data_url,
    embeddings_list,
    image_url_of,
    json_schema_of,
    max_tokens_of,
    new_id,
    parts_of,
    stop_of,
    text_of,
    tool_call,
    usage_of,
)

FINISH_REASONS = PROVIDERS["google"].finish_reasons
CONFIG_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


def finish_reason(reason: Any, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"
    return FINISH_REASONS.get(reason, "content_filter" if reason else "stop")


def user_parts(content: Any) -> list[dict[str, Any]]:
    parts = []
    for part in parts_of(content):
        if part.get("type") == "text":
            parts.append({"text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            url = image_url_of(part)
            inline = data_url(url)
            if inline is not None:
                parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
            else:
                mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
                parts.append({"fileData": {"mimeType": mime, "fileUri": url}})
        elif part.get("type") in (FILE, INPUT_AUDIO):
            parts.append(inline_part(part))
        else:
            raise InvalidRequest(f"content parts of type {part.get('type')!r} are not supported")
    return parts


def inline_part(part: dict[str, Any]) -> dict[str, Any]:
    """A `file` part's PDF or an `input_audio` part as inline data."""
    if part["type"] == FILE:
        return {"inlineData": {"mimeType": PDF, "data": pdf_of(part)[0]}}
    audio_format, data = audio_of(part)
    return {"inlineData": {"mimeType": AUDIO_TYPES[audio_format], "data": data}}


def contents_of(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """System texts and `contents` (assistant -> model; tool results -> functionResponse parts,
    named after the tool call they answer)."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in body["messages"]:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(text_of(message.get("content")))
        elif role == "user":
            add(contents, "user", user_parts(message.get("content")))
        elif role == "assistant":
            parts = [{"text": text}] if (text := text_of(message.get("content"))) else []
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                names[call.get("id", "")] = function.get("name", "")
                parts.append(
                    {
                        "functionCall": {
                            "name": function.get("name", ""),
                            "args": arguments_of(function),
                        }
                    }
                )
            if parts:  # an empty assistant message is left out
                add(contents, "model", parts)
        elif role == "tool":
            name = names.get(message.get("tool_call_id", ""), message.get("name", ""))
            response = {"content": tool_result(text_of(message.get("content")))}
            add(contents, "user", [{"functionResponse": {"name": name, "response": response}}])
    conversation_required(contents)
    return system, contents


def tool_result(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def add(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config = {key: body[name] for name, key in CONFIG_FIELDS.items() if body.get(name) is not None}
    if (max_tokens := max_tokens_of(body)) is not None:
        config["maxOutputTokens"] = max_tokens
    if stop := stop_of(body):
        config["stopSequences"] = stop
    if (schema := json_schema_of(body)) is not None:
        config["responseMimeType"] = "application/json"
        if schema:
            config["responseJsonSchema"] = schema
    return config


def tools_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Function declarations; their parameters as `parametersJsonSchema`, which takes JSON
    Schema as the SDKs write it (`$defs`/`$ref`, `additionalProperties`), where `parameters`
    (OpenAPI's subset) refuses those; `$schema` (every Vercel AI SDK tool) is left out."""
    declarations = []
    for tool in body.get("tools") or []:
        function = tool.get("function") or {}
        declaration = {
            "name": function.get("name", ""),
            "description": function.get("description", ""),
        }
        parameters = function.get("parameters")
        if parameters:
            if isinstance(parameters, dict):
                parameters = {k: v for k, v in parameters.items() if k != "$schema"}
            declaration["parametersJsonSchema"] = parameters
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def tool_config_of(body: dict[str, Any]) -> dict[str, Any] | None:
    chosen = body.get("tool_choice")
    if isinstance(chosen, dict) and isinstance(chosen.get("function"), dict):
        name = chosen["function"].get("name", "")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    mode = {"none": "NONE", "auto": "AUTO", "required": "ANY"}.get(chosen)
    return {"functionCallingConfig": {"mode": mode}} if mode else None


def model_path(call: Call, method: str) -> str:
    model = quote(call.model.removeprefix("models/"), safe="")
    return api_path(call.target, "/v1beta", f"/models/{model}:{method}")


def candidate_parts(candidate: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text and the function calls of one candidate."""
    texts, calls = [], []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if "functionCall" in part:
            function = part["functionCall"] or {}
            call_id = function.get("id") or new_id("call_")
            calls.append(tool_call(call_id, function.get("name", ""), function.get("args")))
        elif isinstance(part.get("text"), str) and not part.get("thought"):
            texts.append(part["text"])
    return "".join(texts), calls


def thoughts_of(candidate: dict[str, Any]) -> str:
    """The thought summaries of one candidate (parts marked `thought`)."""
    parts = (candidate.get("content") or {}).get("parts") or []
    return "".join(
        part["text"] for part in parts if part.get("thought") and isinstance(part.get("text"), str)
    )


def thinking_config(body: dict[str, Any]) -> dict[str, Any] | None:
    """`reasoning_effort` as a thinking budget, its thought summaries asked for ("none": no
    thinking)."""
    budget = reasoning_budget(body)
    if budget is None:
        return None
    return {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}


def usage_from(data: dict[str, Any]) -> dict[str, int] | None:
    metadata = data.get("usageMetadata")
    if not isinstance(metadata, dict):
        return None
    output = sum(
        value
        for key in ("candidatesTokenCount", "thoughtsTokenCount")
        if isinstance(value := metadata.get(key), int)
    )
    usage = usage_of(metadata.get("promptTokenCount"), output, metadata.get("totalTokenCount"))
    return with_details(usage, **detail_counts(metadata))


def detail_counts(metadata: dict[str, Any]) -> dict[str, int]:
    """Cached prompt tokens (part of the prompt's) and thinking tokens (of the completion's)."""
    counts = {
        "cached": metadata.get("cachedContentTokenCount"),
        "reasoning": metadata.get("thoughtsTokenCount"),
    }
    return {name: value for name, value in counts.items() if isinstance(value, int)}


class GeminiAdapter(Adapter):
    name = "google"
    content_parts = frozenset({"text", "image_url", FILE, INPUT_AUDIO})

    def chat_request(self, call: Call) -> ProviderRequest:
        body = dict(call.body)
        answers_asked(body)  # n: candidateCount
        system, contents = contents_of(body)
        out: dict[str, Any] = {"contents": contents}
        if system:
            out["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        if config := generation_config(body):
            out["generationConfig"] = config
        if (thinking := thinking_config(body)) is not None:
            out["generationConfig"] = {
                **out.get("generationConfig", {}),
                "thinkingConfig": thinking,
            }
        if tools := tools_of(body):
            out["tools"] = tools
        if (tool_config := tool_config_of(body)) is not None:
            out["toolConfig"] = tool_config
        if call.stream:
            return ProviderRequest(model_path(call, "streamGenerateContent"), out, {"alt": "sse"})
        return ProviderRequest(model_path(call, "generateContent"), out)

    def chat_answer(self, data: Any, call: Call) -> dict[str, Any]:
        choices = []
        for index, candidate in enumerate(data.get("candidates") or []):
            text, calls = candidate_parts(candidate)
            reason = finish_reason(candidate.get("finishReason"), bool(calls))
            choices.append(
                choice(
                    candidate.get("index", index),
                    text if text or not calls else None,
                    calls,
                    reason,
                )
            )
        if not choices:  # the prompt itself was blocked
            choices.append(choice(0, None, [], "content_filter"))
        answer = completion(call, choices, usage_from(data), data.get("responseId"))
        for index, candidate in enumerate(data.get("candidates") or []):
            with_reasoning(answer, index, thoughts_of(candidate))
        return answer

    def chat_stream(self, call: Call, settle: Settle) -> GeminiStream:
        return GeminiStream(call, settle)

    def embeddings_request(self, call: Call) -> ProviderRequest:
        texts = call.body["input"]
        texts = [texts] if isinstance(texts, str) else texts
        if not all(isinstance(text, str) for text in texts):
            raise InvalidRequest("provider google embeds text inputs only")
        model = f"models/{call.model.removeprefix('models/')}"
        extra = {}
        if isinstance(call.body.get("dimensions"), int):
            extra["outputDimensionality"] = call.body["dimensions"]
        requests = [
            {"model": model, "content": {"parts": [{"text": text}]}, **extra} for text in texts
        ]
        return ProviderRequest(model_path(call, "batchEmbedContents"), {"requests": requests})

    def embeddings_answer(self, data: Any, call: Call) -> dict[str, Any]:
        vectors = [item.get("values") or [] for item in data.get("embeddings") or []]
        return embeddings_list(call, vectors)


class GeminiStream(SSETranslator):
    """Each event is a whole GenerateContentResponse: its text parts become content deltas (its
    thoughts reasoning deltas), its function calls whole tool-call chunks, each candidate's the
    choice of its index (`n` answers: candidateCount); the answer ends once every candidate
    came with a finishReason. Gemini sends no end marker: `[DONE]` follows the upstream's end
    once the answer ended."""

    def __init__(self, call: Call, settle: Settle) -> None:
        super().__init__(call, settle)
        self.tool_count = 0
        self.answers = answers_asked(call.body)
        self.tool_counts: dict[int, int] = {}  # choice -> its tool calls so far
        self.finished: set[int] = set()

    def event(self, event: SSEEvent) -> bytes:
        data = event.json()
        if not isinstance(data, dict):
            return b""
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            return self.fail(
                str(error.get("message", "upstream error")), str(error.get("status", ""))
            )
        self.usage = usage_from(data) or self.usage
        out = self.start()
        if self.answers > 1:
            return out + self.candidates(data)
        candidates = data.get("candidates") or []
        candidate = candidates[0] if candidates else {}
        text, calls = candidate_parts(candidate)
        out += self.out.reasoning(thoughts_of(candidate)) + self.out.text(text)
        for call in calls:
            function = call["function"]
            out += self.out.tool_start(
                self.tool_count, call["id"], function["name"], function["arguments"]
            )
            self.tool_count += 1
        if candidate.get("finishReason"):
            out += self.end(finish_reason(candidate["finishReason"], self.tool_count > 0))
        elif data.get("promptFeedback", {}).get("blockReason"):
            out += self.end("content_filter")
        return out

    def candidates(self, data: dict[str, Any]) -> bytes:
        """An event of several candidates: each one's deltas as the choice of its index."""
        out = b""
        if data.get("promptFeedback", {}).get("blockReason"):
            return self.end("content_filter")
        for position, candidate in enumerate(data.get("candidates") or []):
            index = candidate.get("index", position)
            if not isinstance(index, int) or index in self.finished:
                continue
            if index not in self.tool_counts:
                self.tool_counts[index] = 0
                out += self.out.role(index) if index else b""
            text, calls = candidate_parts(candidate)
            out += self.out.reasoning(thoughts_of(candidate), index) + self.out.text(text, index)
            for call in calls:
                function = call["function"]
                out += self.out.tool_start(
                    self.tool_counts[index],
                    call["id"],
                    function["name"],
                    function["arguments"],
                    index,
                )
                self.tool_counts[index] += 1
            if candidate.get("finishReason"):
                reason = finish_reason(candidate["finishReason"], self.tool_counts[index] > 0)
                out += self.out.finish(reason, index)
                self.finished.add(index)
        if len(self.finished) >= self.answers:
            self.finish_reason = "stop"  # every answer ended: [DONE] follows the upstream's end
        return out
