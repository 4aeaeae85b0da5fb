"""Google's Gemini API: generateContent, streamGenerateContent (`alt=sse`), batchEmbedContents."""

from __future__ import annotations

import json

from google.genai import types

from tests.llm_mocks.openai import VECTOR
from tests.llm_mocks.replies import (
    API_KEY,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
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
    answers = [
        {
            "candidates": [{"content": {"role": "model", "parts": p}, "index": 0}],
            "usageMetadata": {"promptTokenCount": PROMPT_TOKENS},
            "modelVersion": model,
            "responseId": "mock-response",
        }
        for p in pieces
    ]
    answers[-1]["candidates"][0]["finishReason"] = "STOP"
    answers[-1]["usageMetadata"] = USAGE
    return answers
