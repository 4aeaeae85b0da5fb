"""Amazon Bedrock's Converse and ConverseStream (the binary event stream, encoded here for the
mock only) and InvokeModel of its Titan and Cohere embeddings models; every request's SigV4
signature is checked with botocore's signer."""

from __future__ import annotations

import binascii
import json
import re
import struct
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.llm_mocks.openai import VECTOR
from tests.llm_mocks.replies import (
    AWS_ACCESS_KEY_ID,
    AWS_REGION,
    AWS_SECRET_ACCESS_KEY,
    CACHE_WRITE_TOKENS,
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    THOUGHT,
    TOOL_ARGUMENTS,
    reply,
    streamed_arguments,
)
from tests.llm_mocks.schemas import bedrock_invoke_problem, bedrock_problem

AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)"
    r"/bedrock/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)
USAGE = {
    "inputTokens": PROMPT_TOKENS,
    "outputTokens": COMPLETION_TOKENS,
    "totalTokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def signature_problem(handler) -> str | None:
    """Why the request's SigV4 signature is not the one botocore computes (None when it is)."""
    headers = handler.seen.headers
    found = AUTHORIZATION.match(headers.get("Authorization", ""))
    if found is None:
        return "Authorization header is not a well-formed SigV4 signature"
    if found["key"] != AWS_ACCESS_KEY_ID or found["region"] != AWS_REGION:
        return "The security token included in the request is invalid."
    signed = found["signed"].split(";")
    request = AWSRequest(
        method="POST",
        url=f"http://{headers['Host']}{quote(handler.seen.path, safe='/%')}",
        data=handler.seen.body,
        headers={name: headers[name] for name in signed if name != "host"},
    )
    request.headers["host"] = headers["Host"]
    request.context["timestamp"] = headers.get("X-Amz-Date", "")
    signer = SigV4Auth(Credentials(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), "bedrock", AWS_REGION)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != found["sig"]:
        return "The request signature we calculated does not match the signature you provided."
    return None


def problem(body: dict) -> str | None:
    messages = body.get("messages") or []
    if not messages or messages[0]["role"] != "user":
        return "A conversation must start with a user message."
    for before, after in zip(messages, messages[1:], strict=False):
        if before["role"] == after["role"]:
            return "A conversation must alternate between user and assistant roles."
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking") or {}
    if thinking.get("type") == "enabled":
        max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens", 4096)
        if not 1024 <= thinking["budget_tokens"] < max_tokens:
            return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
        if set((body.get("toolConfig") or {}).get("toolChoice") or {}) & {"any", "tool"}:
            return "Thinking may not be enabled when tool_choice forces tool use."
        answers = [m["content"] for m in messages if m["role"] == "assistant"]
        last = answers[-1] if answers else []
        if any("toolUse" in b for b in last) and "reasoningContent" not in last[0]:
            return "a final assistant message with toolUse must start with a reasoning block"
    return None


def usage(body: dict) -> dict:
    """Prompt-cache reads and writes counted apart when the request has cache points."""
    if '"cachePoint"' not in json.dumps(body):
        return USAGE
    return {
        **USAGE,
        "cacheReadInputTokens": CACHED_TOKENS,
        "cacheWriteInputTokens": CACHE_WRITE_TOKENS,
    }


def thinks(body: dict) -> bool:
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking") or {}
    return thinking.get("type") == "enabled"


def offered_tools(body: dict) -> list[str]:
    """The tools the model may call: the one toolChoice forces, else all of them."""
    config = body.get("toolConfig") or {}
    if "tool" in (config.get("toolChoice") or {}):
        return [config["toolChoice"]["tool"]["name"]]
    return [t["toolSpec"]["name"] for t in config.get("tools", []) if "toolSpec" in t]


def converse(handler, groups: list[str], body: dict) -> None:
    model, action = groups
    failure = signature_problem(handler)
    if failure is not None:
        handler.send_json(403, {"message": failure}, {"x-amzn-ErrorType": "AccessDeniedException:"})
        return
    if (found := problem(body) or bedrock_problem(model, action, body)) is not None:
        handler.send_json(400, {"message": found}, {"x-amzn-ErrorType": "ValidationException:"})
        return
    last = body["messages"][-1]["content"]
    results = [b["toolResult"]["content"][0]["text"] for b in last if "toolResult" in b]
    text = "".join(b.get("text", "") for b in last)
    tools = offered_tools(body)
    answer = reply("bedrock", text, tools, results[0] if results else None)
    if action == "converse-stream":
        handler.send_stream("application/vnd.amazon.eventstream", stream(answer, body))
        return
    if answer.tool:
        use = {"toolUseId": "tooluse_mock", "name": answer.tool, "input": TOOL_ARGUMENTS}
        content = [{"toolUse": use}]
    else:
        content = [{"text": answer.text}]
    if thinks(body):
        reasoning = {"reasoningText": {"text": THOUGHT, "signature": "sig-mock"}}
        content.insert(0, {"reasoningContent": reasoning})
    handler.send_json(
        200,
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": "tool_use" if answer.tool else "end_turn",
            "usage": usage(body),
            "metrics": {"latencyMs": 5},
        },
    )


# The request body of each embeddings model family: (required fields, allowed fields).
EMBEDDING_BODIES = {
    "amazon.titan-embed-text-v2": (
        {"inputText"},
        {"inputText", "dimensions", "normalize", "embeddingTypes"},
    ),
    "cohere.embed": (
        {"texts", "input_type"},
        {"texts", "input_type", "truncate", "embedding_types", "images"},
    ),
}
COHERE_INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}


def embedding_problem(model: str, body: dict) -> str | None:
    """What the model refuses in its InvokeModel body (Titan V2's and Cohere's documented
    fields; one text for Titan, a list of at most 96 for Cohere)."""
    found = [spec for prefix, spec in EMBEDDING_BODIES.items() if model.startswith(prefix)]
    if not found:
        return f"The provided model identifier is invalid: {model}"
    required, allowed = found[0]
    if missing := required - body.keys():
        return f"Malformed input request: required key {sorted(missing)} not found"
    if extra := body.keys() - allowed:
        return f"Malformed input request: extraneous key {sorted(extra)} is not permitted"
    if "inputText" in body and not isinstance(body["inputText"], str):
        return "Malformed input request: inputText must be a string"
    if body.get("dimensions", 1024) not in (256, 512, 1024):
        return "Malformed input request: dimensions must be one of 256, 512, 1024"
    texts = body.get("texts", [""])
    if not isinstance(texts, list) or not 1 <= len(texts) <= 96:
        return "Malformed input request: texts must be a list of 1 to 96 texts"
    if "input_type" in body and body["input_type"] not in COHERE_INPUT_TYPES:
        return "Malformed input request: input_type is not a valid value"
    return None


def invoke(handler, groups: list[str], body: dict) -> None:
    """InvokeModel of an embeddings model: Titan answers one vector, Cohere one per text; the
    input token count is in the header InvokeModel sets."""
    (model,) = groups
    failure = signature_problem(handler)
    if failure is not None:
        handler.send_json(403, {"message": failure}, {"x-amzn-ErrorType": "AccessDeniedException:"})
        return
    headers = handler.seen.headers
    params = {
        "modelId": model,
        "body": handler.seen.body,
        "contentType": headers.get("Content-Type", ""),
        "accept": headers.get("Accept", ""),
    }
    if (found := bedrock_invoke_problem(params) or embedding_problem(model, body)) is not None:
        handler.send_json(400, {"message": found}, {"x-amzn-ErrorType": "ValidationException:"})
        return
    if "texts" in body:
        vectors = [VECTOR for _ in body["texts"]]
        answer = {"id": "mock", "embeddings": vectors, "response_type": "embeddings_floats"}
        answer["texts"] = body["texts"]
    else:
        answer = {"embedding": VECTOR, "inputTextTokenCount": PROMPT_TOKENS}
    handler.send_json(200, answer, {"X-Amzn-Bedrock-Input-Token-Count": str(PROMPT_TOKENS)})


def header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )


def message(event_type: str, payload: dict, message_type: str = "event") -> bytes:
    """One event-stream message: prelude (lengths, CRC), headers, JSON payload, message CRC.
    An exception names its type in `:exception-type`."""
    type_header = ":event-type" if message_type == "event" else ":exception-type"
    headers = (
        header(type_header, event_type)
        + header(":content-type", "application/json")
        + header(":message-type", message_type)
    )
    body = json.dumps({**payload, "p": "abcdefgh"}).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    data = prelude + headers + body
    return data + struct.pack(">I", binascii.crc32(data))


def stream(answer, body: dict | None = None) -> list[bytes]:
    body = body or {}
    events = [message("messageStart", {"role": "assistant"})]
    index = 0
    if thinks(body):
        for delta in ({"text": THOUGHT[:9]}, {"text": THOUGHT[9:]}, {"signature": "sig-mock"}):
            payload = {"contentBlockIndex": 0, "delta": {"reasoningContent": delta}}
            events.append(message("contentBlockDelta", payload))
        events.append(message("contentBlockStop", {"contentBlockIndex": 0}))
        index = 1
    if answer.tool:
        start = {"toolUse": {"toolUseId": "tooluse_mock", "name": answer.tool}}
        events.append(message("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        for piece in streamed_arguments():
            delta = {"toolUse": {"input": piece}}
            payload = {"contentBlockIndex": index, "delta": delta}
            events.append(message("contentBlockDelta", payload))
    else:
        for piece in answer.pieces():
            payload = {"contentBlockIndex": index, "delta": {"text": piece}}
            events.append(message("contentBlockDelta", payload))
    events.append(message("contentBlockStop", {"contentBlockIndex": index}))
    events.append(message("messageStop", {"stopReason": "tool_use" if answer.tool else "end_turn"}))
    events.append(message("metadata", {"usage": usage(body), "metrics": {"latencyMs": 5}}))
    # The last two arrive split across reads, as TCP may deliver them.
    tail = events[-2] + events[-1]
    return events[:-2] + [tail[:7], tail[7:]]
