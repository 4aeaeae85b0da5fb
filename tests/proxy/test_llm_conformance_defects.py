"""Defects of the LLM front that real clients trip over, on the real proxy path: a provider's
stream that breaks off ends with an error the clients raise on (never as a finished answer)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from plugins.sdk.sse import SSEParser
from tests.builders import llm_chat, provider_target
from tests.e2e.test_llm_front_e2e import provider_target as front_target
from tests.llm_mocks import replies
from tests.observability.conftest import lines, sample
from tests.openai_upstream import OpenAIServer
from tests.upstream import BackgroundServer

HOST = "llm.localhost"
HELLO = [{"role": "user", "content": "hello"}]
BROKEN = "upstream stream broke off before the end of the answer"


class CutHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CutServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", self.server.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in self.server.pieces:
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
        if self.server.finish:  # the body ends in order, the answer in it does not
            self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True  # else: no terminating chunk, the transfer breaks


class CutServer(BackgroundServer):
    """Answers every POST with `pieces` of `content_type`, then drops the connection (or, with
    `finish`, ends the body in order)."""

    def __init__(self, pieces: list[bytes], content_type: str, finish: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), CutHandler)
        self.pieces, self.content_type, self.finish = pieces, content_type, finish


@pytest.fixture
def access_log_file(settings, tmp_path):
    path = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(path)}
    return path


@pytest.fixture
def servers() -> Iterator[list[BackgroundServer]]:
    started: list[BackgroundServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def cut_server(servers):
    def start(pieces: list[bytes], content_type="text/event-stream", finish=False) -> CutServer:
        server = CutServer(pieces, content_type, finish).start()
        servers.append(server)
        return server

    return start


def events(body: bytes) -> list:
    parser = SSEParser()
    return parser.feed(body) + parser.finish()


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


ANTHROPIC_START = [
    sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude",
                "content": [],
                "usage": {"input_tokens": 9, "output_tokens": 1},
            },
        },
    ),
    sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    ),
]
PRICING = {"input_per_million": 1_000_000, "output_per_million": 0}


def request_lines(path) -> list[dict]:
    return [line for line in lines(path) if line["type"] == "request"]


# 1. A provider's stream that breaks off is never a finished answer.


@pytest.mark.parametrize("finish", [False, True], ids=["connection-dropped", "body-ended"])
def test_a_translated_stream_cut_off_ends_with_an_openai_error_event_and_no_done(
    cut_server, llm_gateway, proxy_client, access_log_file, finish
):
    server = cut_server(ANTHROPIC_START, finish=finish)
    target = provider_target(server.port, "claude", "anthropic", pricing=PRICING)
    gateway = llm_gateway([target])
    broken_before = sample("gateway_broken_streams_total", gateway="llm", rule=gateway.rule["id"])
    response = llm_chat(
        proxy_client, gateway, {"model": "claude", "messages": HELLO, "stream": True}
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    parsed = events(body)
    assert b"[DONE]" not in body
    assert parsed[-1].json() == {"error": {"message": BROKEN, "type": "upstream_error"}}
    assert parsed[-2].json()["choices"][0]["delta"] == {"content": "Hel"}  # what was delivered
    (line,) = request_lines(access_log_file)
    assert (line["status"], line["stream"]) == (200, "broken")
    assert line["llm"]["prompt_tokens"] == 9  # the usage reported before the cut is settled
    assert line["llm"]["cost"] == 9.0
    broken_after = sample("gateway_broken_streams_total", gateway="llm", rule=gateway.rule["id"])
    assert broken_after == broken_before + 1


def test_an_openai_stream_cut_off_ends_with_its_error_event_and_no_done(
    upstreams, llm_gateway, proxy_client, access_log_file
):
    server = upstreams.start(server_class=OpenAIServer)
    server.behaviour.break_stream = True
    gateway = llm_gateway([server.target("gpt-a")])
    response = llm_chat(
        proxy_client, gateway, {"model": "gpt-a", "messages": HELLO, "stream": True}
    )
    body = b"".join(response.streaming_content)
    parsed = events(body)
    assert b"[DONE]" not in body
    assert parsed[0].json()["choices"][0]["delta"]["content"] == "Hello"
    assert parsed[-1].json() == {"error": {"message": BROKEN, "type": "upstream_error"}}
    (line,) = request_lines(access_log_file)
    assert line["stream"] == "broken"


def test_an_anthropic_passthrough_stream_cut_off_ends_with_anthropics_error_event(
    cut_server, llm_gateway, proxy_client, access_log_file
):
    server = cut_server(ANTHROPIC_START)
    target = {**provider_target(server.port, "claude", "anthropic"), "mode": "passthrough"}
    gateway = llm_gateway([target])
    body = {"model": "claude", "max_tokens": 10, "messages": HELLO, "stream": True}
    response = llm_chat(proxy_client, gateway, body, path="/v1/messages")
    received = b"".join(response.streaming_content)
    assert received.startswith(b"".join(ANTHROPIC_START))
    last = events(received)[-1]
    assert last.event == "error"
    assert last.json() == {"type": "error", "error": {"type": "upstream_error", "message": BROKEN}}
    (line,) = request_lines(access_log_file)
    assert line["stream"] == "broken"


def test_a_plain_stream_cut_off_breaks_the_clients_transfer(
    cut_server, route, proxy_client, access_log_file
):
    server = cut_server([b"first piece, "], content_type="text/plain")
    gateway = route(targets=[("127.0.0.1", server.port)])
    response = proxy_client.post("/anything", HTTP_HOST="api.localhost", HTTP_X_API_KEY=gateway.key)
    received: list[bytes] = []
    with pytest.raises(ConnectionAbortedError, match="broke off"):
        received.extend(response.streaming_content)
    assert b"".join(received) == b"first piece, "
    (line,) = request_lines(access_log_file)
    assert (line["status"], line["stream"], line["bytes_out"]) == (200, "broken", 13)


def test_a_whole_stream_is_logged_complete(upstreams, llm_gateway, proxy_client, access_log_file):
    server = upstreams.start(server_class=OpenAIServer)
    gateway = llm_gateway([server.target("gpt-a")])
    response = llm_chat(
        proxy_client, gateway, {"model": "gpt-a", "messages": HELLO, "stream": True}
    )
    assert b"".join(response.streaming_content).endswith(b"data: [DONE]\n\n")
    (line,) = request_lines(access_log_file)
    assert line["stream"] == "complete"


# 3. The gateway's own errors on LLM routes are in OpenAI's shape.


def openai_error(message: str, kind: str, param: str | None = None, code: str | None = None):
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@pytest.fixture
def front(upstreams, llm_gateway):
    server = upstreams.start(server_class=OpenAIServer)
    limiter = {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": {"per_key": {"limit": 1, "window": "1m"}}},
    }
    gateway = llm_gateway([server.target("gpt-a")], required_plugins=[limiter])
    gateway.server = server
    return gateway


def test_the_fronts_own_errors_are_in_openais_shape(front, proxy_client):
    bad_body = llm_chat(proxy_client, front, {"model": "gpt-a", "messages": "hello"})
    assert bad_body.status_code == 400
    assert bad_body.json() == openai_error("invalid request body", "invalid_request_error")
    unknown = llm_chat(proxy_client, front, {"model": "gpt-z", "messages": HELLO})
    assert unknown.status_code == 400
    message = "model 'gpt-z' is not available; allowed models: gpt-a"
    expected = openai_error(message, "invalid_request_error", "model", "model_not_found")
    assert unknown.json() == expected
    missing = proxy_client.post(
        "/v1/chat/completions", b"{}", content_type="application/json", HTTP_HOST=HOST
    )
    assert missing.status_code == 401
    expected = openai_error("API key required", "authentication_error", code="invalid_api_key")
    assert missing.json() == expected
    invalid = proxy_client.post(
        "/v1/chat/completions",
        b"{}",
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_AUTHORIZATION="Bearer sk-wrong",
    )
    expected = openai_error("invalid API key", "authentication_error", code="invalid_api_key")
    assert (invalid.status_code, invalid.json()) == (401, expected)
    assert front.server.seen == []


def test_a_rate_limit_is_openais_429_with_retry_after(front, proxy_client):
    assert llm_chat(proxy_client, front, {"model": "gpt-a", "messages": HELLO}).status_code == 200
    limited = llm_chat(proxy_client, front, {"model": "gpt-a", "messages": HELLO})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"]
    error = limited.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "rate_limit_error",
        "rate_limit_exceeded",
        None,
    )
    assert "rate limit" in error["message"].lower()


def test_plain_routes_and_unknown_gateways_keep_the_plain_shape(route, proxy_client):
    route()
    unknown = proxy_client.get("/x", HTTP_HOST="nowhere.localhost")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Gateway not found"})
    keyless = proxy_client.get("/x", HTTP_HOST="api.localhost")
    assert (keyless.status_code, keyless.json()) == (401, {"error": "API key required"})


# 4. Streams are metered whether or not the client asked for the usage chunk.


@pytest.mark.parametrize("provider", ["openai", "azure", "mistral"])
def test_a_stream_without_include_usage_is_metered_and_its_usage_chunk_not_relayed(
    mock, llm_gateway, proxy_client, access_log_file, provider
):
    target = {**front_target(provider, mock.url), "pricing": PRICING}
    gateway = llm_gateway([target])
    model = target["default_model"]
    response = llm_chat(proxy_client, gateway, {"model": model, "messages": HELLO, "stream": True})
    body = b"".join(response.streaming_content)
    chunks = [event.json() for event in events(body) if event.data != "[DONE]"]
    assert body.endswith(b"data: [DONE]\n\n")
    assert all(chunk["choices"] and chunk.get("usage") is None for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    (line,) = request_lines(access_log_file)
    tokens = replies.PROMPT_TOKENS, replies.COMPLETION_TOKENS
    assert (line["llm"]["prompt_tokens"], line["llm"]["completion_tokens"]) == tokens
    assert line["llm"]["cost"] == replies.PROMPT_TOKENS
    if provider != "mistral":  # Mistral refuses stream_options (its last chunk has the usage)
        sent = json.loads(mock.seen[-1].body)
        assert sent["stream_options"] == {"include_usage": True}


def test_a_client_asking_for_usage_still_gets_its_usage_chunk(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([front_target("openai", mock.url)])
    body = {
        "model": "gpt-4o-mini",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = llm_chat(proxy_client, gateway, body)
    chunks = [e.json() for e in events(b"".join(response.streaming_content)) if e.json()]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == replies.PROMPT_TOKENS


def test_openais_error_to_a_stream_request_passes_unchanged(mock, llm_gateway, proxy_client):
    mock.fail_status = 400
    gateway = llm_gateway([front_target("openai", mock.url)])
    response = llm_chat(
        proxy_client, gateway, {"model": "gpt-4o-mini", "messages": HELLO, "stream": True}
    )
    assert (response.status_code, response.json()) == (400, {"error": {"message": "mock failure"}})


# 9. A provider that accepts and does not answer in time is left for the next target.


class SilentHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SilentServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.head:  # the status line and headers, then no byte of the body
            self.send_response(200)
            self.send_header("Content-Type", self.server.head)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
        self.server.asked.set()
        self.server.released.wait()  # answers nothing until the test ends


class SilentServer(BackgroundServer):
    """Accepts a request and sends nothing (or, with `head`, only a 200 head of that type)."""

    def __init__(self, head: str = "") -> None:
        super().__init__(("127.0.0.1", 0), SilentHandler)
        self.head = head
        self.asked, self.released = threading.Event(), threading.Event()

    def stop(self) -> None:
        self.released.set()
        super().stop()


@pytest.mark.parametrize(
    ("stream", "head"),
    [(False, ""), (True, ""), (False, "application/json"), (True, "text/event-stream")],
    ids=["json-no-head", "stream-no-head", "json-head-only", "stream-head-only"],
)
def test_a_read_timeout_before_the_first_byte_falls_back_to_the_next_target(
    servers, mock, llm_gateway, proxy_client, stream, head
):
    silent = SilentServer(head).start()
    servers.append(silent)
    first = provider_target(silent.port, "gpt-4o-mini", "openai")
    second = {**front_target("mistral", mock.url), "priority": 1}
    gateway = llm_gateway([first, second], service_extra={"read_timeout": 0.3})
    body = {"model": "gpt-4o-mini", "messages": HELLO, "stream": stream}
    response = llm_chat(proxy_client, gateway, body)
    assert silent.asked.is_set()
    assert (response.status_code, response.headers["X-Gateway-Provider"]) == (200, "mistral")
    assert response.headers["X-Selected-Provider"] == "mistral"  # TrustGate's name for it
    answer = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"mistral" in answer


# 2. Tool schemas as the SDKs write them reach Gemini in a form it accepts.

VERCEL_TOOL = {  # the Vercel AI SDK's zod tools carry $schema
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather.",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
PYDANTIC_TOOL = {  # the OpenAI SDK's pydantic_function_tool nests models through $defs/$ref
    "type": "function",
    "function": {
        "name": "get_weather",
        "strict": True,
        "parameters": {
            "$defs": {
                "Place": {
                    "type": "object",
                    "properties": {"city": {"title": "City", "type": "string"}},
                    "required": ["city"],
                    "additionalProperties": False,
                }
            },
            "type": "object",
            "properties": {"place": {"$ref": "#/$defs/Place"}},
            "required": ["place"],
            "additionalProperties": False,
        },
    },
}


@pytest.mark.parametrize("tool", [VERCEL_TOOL, PYDANTIC_TOOL], ids=["vercel", "pydantic"])
def test_sdk_tool_schemas_reach_gemini_in_a_form_it_accepts(mock, llm_gateway, proxy_client, tool):
    gateway = llm_gateway([front_target("google", mock.url)])
    body = {"model": "gemini-flash", "messages": HELLO, "tools": [tool]}
    response = llm_chat(proxy_client, gateway, body)
    assert response.status_code == 200, response.content
    assert response.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "get_weather"
    )
    (declaration,) = json.loads(mock.last("gemini-flash").body)["tools"][0]["functionDeclarations"]
    schema = declaration["parametersJsonSchema"]
    assert "$schema" not in schema
    parameters = {k: v for k, v in tool["function"]["parameters"].items() if k != "$schema"}
    assert schema == parameters


# 8. Edge inputs are a valid provider request or a 400 naming the field, never a 500.

TRANSLATED = ["anthropic", "google", "bedrock", "openai"]
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
MALFORMED = [
    ({"tools": "f"}, "tools"),
    ({"tools": ["f"]}, "tools[0].function"),
    ({"tools": [{"type": "function", "function": {"name": 3}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
        "tools[0].function.parameters",
    ),
    ({"tool_choice": 3}, "tool_choice"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": "10"}, "max_tokens"),
    ({"max_completion_tokens": -1}, "max_completion_tokens"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": ["hi"]}]}, "messages[0].content[0]"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [*HELLO, {"role": "assistant", "tool_calls": "f"}]}, "messages[1].tool_calls"),
    (
        {"messages": [*HELLO, {"role": "assistant", "tool_calls": [3]}]},
        "messages[1].tool_calls[0].function",
    ),
    (
        {"messages": [*HELLO, {"role": "assistant", "tool_calls": [{"function": {}}]}]},
        "messages[1].tool_calls[0].function.name",
    ),
    (
        {
            "messages": [
                *HELLO,
                {
                    "role": "assistant",
                    "tool_calls": [{**CALL, "function": {"name": "f", "arguments": {}}}],
                },
            ]
        },
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        {"messages": [*HELLO, {"role": "assistant", "tool_calls": [{**CALL, "id": 1}]}]},
        "messages[1].tool_calls[0].id",
    ),
    (
        {"messages": [*HELLO, {"role": "tool", "tool_call_id": 1, "content": "x"}]},
        "messages[1].tool_call_id",
    ),
]
SYSTEM_ONLY = {"messages": [{"role": "system", "content": "Be brief."}]}


def edge_gateway(llm_gateway, mock, provider: str):
    return llm_gateway([front_target(provider, mock.url)])


# Every translated provider refuses malformed shapes; those without a system-only conversation
# (OpenAI takes one) refuse that too.
MALFORMED_CASES = [
    *((provider, change, field) for provider in TRANSLATED for change, field in MALFORMED),
    *((provider, SYSTEM_ONLY, "messages") for provider in TRANSLATED if provider != "openai"),
]


@pytest.mark.parametrize(
    ("provider", "change", "field"),
    MALFORMED_CASES,
    ids=[f"{field}-{provider}" for provider, _, field in MALFORMED_CASES],
)
def test_malformed_shapes_are_a_400_naming_the_field(
    mock, llm_gateway, proxy_client, provider, change, field
):
    gateway = edge_gateway(llm_gateway, mock, provider)
    model = front_target(provider, mock.url)["default_model"]
    response = llm_chat(proxy_client, gateway, {"model": model, "messages": HELLO, **change})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"].startswith(f"{field}: ")
    assert mock.seen == []


@pytest.mark.parametrize("provider", ["anthropic", "google", "bedrock"])
def test_an_empty_assistant_message_is_left_out_of_the_providers_request(
    mock, llm_gateway, proxy_client, provider
):
    gateway = edge_gateway(llm_gateway, mock, provider)
    model = front_target(provider, mock.url)["default_model"]
    messages = [*HELLO, {"role": "assistant", "content": ""}, {"role": "user", "content": "again"}]
    response = llm_chat(proxy_client, gateway, {"model": model, "messages": messages})
    assert response.status_code == 200, response.content
    sent = json.loads(mock.seen[-1].body)
    turns = sent.get("messages") or sent.get("contents")
    assert [turn["role"] for turn in turns] == ["user"]  # the two user turns joined
    assert all(turn.get("content") or turn.get("parts") for turn in turns)
