"""Google's Gemini API: generateContent, streamGenerateContent (`alt=sse`), batchEmbedContents."""

from __future__ import annotations

import json

from google.genai import types

from tests.llm_mocks.openai import VECTOR
from tests.llm_mocks.replies import (
    API_KEY,
    CACHED,
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    THOUGHT,
    THOUGHT_TOKENS,
    TOOL_ARGUMENTS,
    reply,
)
from tests.llm_mocks.schemas import gemini_problem

USAGE = {
    "promptTokenCount": PROMPT_TOKENS,
    "candidatesTokenCount": COMPLETION_TOKENS,
    "totalTokenCount": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def error(handler, status: int, state: str, message: str) -> None:
    handler.send_json(status, {"error": {"code": status, "message": message, "status": state}})


def dispatch(handler, groups: list[str], body: dict) -> None:
    model, method = groups
    if handler.seen.headers.get("x-goog-api-key") != API_KEY:
        error(handler, 403, "PERMISSION_DENIED", "API key not valid")
    elif method in ("generateContent", "streamGenerateContent") and (
        found := problem(body) or gemini_problem(body)
    ):
        error(handler, 400, "INVALID_ARGUMENT", found)
    elif method == "generateContent":
        handler.send_json(200, answer(model, body, final=True)[0])
    elif method == "streamGenerateContent" and handler.query.get("alt") == "sse":
        pieces = [
            f"data: {json.dumps(a)}\r\n\r\n".encode() for a in answer(model, body, final=False)
        ]
        handler.send_stream("text/event-stream", pieces)
    elif method == "batchEmbedContents":
        embeddings = [{"values": VECTOR} for _ in body["requests"]]
        handler.send_json(200, {"embeddings": embeddings})
    else:
        error(handler, 404, "NOT_FOUND", f"method {method} not found")


def problem(body: dict) -> str | None:
    for tool in body.get("tools") or []:  # checked as Google's own SDK types check them
        try:
            types.Tool.model_validate(tool)
        except ValueError as exc:  # pydantic's ValidationError
            return f"Invalid JSON payload received. {exc}"
    contents = body.get("contents") or []
    if not contents:
        return "contents is not specified"
    if "system" in json.dumps([c["role"] for c in contents]):
        return "system is not a role: use systemInstruction"
    if any(c.get("role") not in ("user", "model") for c in contents):
        return "Please use a valid role: user, model."
    return None


def answer(model: str, body: dict, final: bool) -> list[dict]:
    """The whole answer (`final`), or its streamed pieces."""
    parts = body["contents"][-1]["parts"]
    results = [p["functionResponse"]["response"] for p in parts if "functionResponse" in p]
    text = "".join(p.get("text", "") for p in parts)
    tools = [
        d["name"] for tool in body.get("tools") or [] for d in tool.get("functionDeclarations", [])
    ]
    json_asked = (body.get("generationConfig") or {}).get("responseMimeType") == "application/json"
    result = json.dumps(results[0]) if results else None
    said = reply("gemini", text, tools, result, json_asked)
    if said.tool:
        pieces = [[{"functionCall": {"name": said.tool, "args": TOOL_ARGUMENTS}}]]
    elif final:
        pieces = [[{"text": said.text}]]
    else:
        pieces = [[{"text": piece}] for piece in said.pieces()]
    config = body.get("generationConfig") or {}
    if (config.get("thinkingConfig") or {}).get("includeThoughts"):
        pieces.insert(0, [{"text": THOUGHT, "thought": True}])
        if final:
            pieces[:2] = [pieces[0] + pieces[1]]
    count = config.get("candidateCount", 1)
    answers = [
        {
            "candidates": [
                {"content": {"role": "model", "parts": p}, "index": i} for i in range(count)
            ],
            "usageMetadata": {"promptTokenCount": PROMPT_TOKENS},
            "modelVersion": model,
            "responseId": "mock-response",
        }
        for p in pieces
    ]
    for candidate in answers[-1]["candidates"]:
        candidate["finishReason"] = "STOP"
    answers[-1]["usageMetadata"] = usage(body, count)
    return answers


def usage(body: dict, count: int) -> dict:
    """Completion tokens per candidate, thought tokens apart; implicitly cached prompt tokens
    (within the prompt's) when the request's text holds CACHED."""
    completion = COMPLETION_TOKENS * count
    metadata = {**USAGE, "candidatesTokenCount": completion}
    config = body.get("generationConfig") or {}
    if (config.get("thinkingConfig") or {}).get("includeThoughts"):
        metadata["thoughtsTokenCount"] = THOUGHT_TOKENS
        completion -= THOUGHT_TOKENS
        metadata["candidatesTokenCount"] = completion
    if CACHED in json.dumps(body["contents"]):
        metadata["promptTokenCount"] = PROMPT_TOKENS + CACHED_TOKENS
        metadata["cachedContentTokenCount"] = CACHED_TOKENS
    metadata["totalTokenCount"] = metadata["promptTokenCount"] + COMPLETION_TOKENS * count
    return metadata
