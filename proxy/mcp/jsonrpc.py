"""JSON-RPC 2.0 as MCP speaks it: errors in the protocol's shape, answers read from a JSON
body or a server-sent event stream."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from gateway_project.bounded_json import loads
from gateway_project.conf import gateway_settings

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REFUSED = -32001  # the gateway refused the call (a key's tools, a plugin)
EVENT_STREAM = "text/event-stream"


class McpError(Exception):
    """Ends an MCP request with a JSON-RPC error (HTTP `status`, 200 for a request's own
    error)."""

    def __init__(self, code: int, message: str, status: int = 200, id: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.id = code, message, status, id

    def answer(self) -> HttpResponse:
        return error_answer(self)


def error_body(code: int, message: str, id: Any = None) -> bytes:
    error = {"code": code, "message": message}
    return json.dumps({"jsonrpc": "2.0", "id": id, "error": error}).encode()


def error_answer(exc: McpError) -> HttpResponse:
    body = error_body(exc.code, exc.message, exc.id)
    return HttpResponse(body, status=exc.status, content_type="application/json")


def result_answer(id: Any, result: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    body = json.dumps({"jsonrpc": "2.0", "id": id, "result": result}).encode()
    response = HttpResponse(body, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def as_jsonrpc_error(response: HttpResponse, id: Any = None) -> HttpResponse:
    """The gateway's own `{"error": ...}` answer (a key refused, a plugin's rejection) in
    JSON-RPC's shape, same status and headers; other answers as they are."""
    if response.status_code < 400 or response.get("Content-Type") != "application/json":
        return response
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return response
    if not isinstance(error, str) or "jsonrpc" in response.content.decode(errors="replace"):
        return response
    response.content = error_body(REFUSED, error, id)
    return response


def parse_message(body: bytes) -> dict[str, Any]:
    """One JSON-RPC message (a batch is refused: MCP since 2025-06-18 sends none)."""
    try:
        message = loads(body, gateway_settings.MAX_JSON_DEPTH)
    except ValueError as exc:
        raise McpError(PARSE_ERROR, "Parse error", status=400) from exc
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise McpError(INVALID_REQUEST, "Invalid Request: one JSON-RPC 2.0 message", 400)
    if "method" in message and not isinstance(message["method"], str):
        raise McpError(INVALID_REQUEST, "Invalid Request: method", 400, message.get("id"))
    return message


def answer_of(body: bytes, content_type: str, id: Any) -> dict[str, Any]:
    """The server's response to request `id`, from a JSON body or an event stream."""
    if content_type.startswith(EVENT_STREAM):
        for data in event_data(body):
            try:
                message = loads(data.encode(), gateway_settings.MAX_JSON_DEPTH)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("id") == id and "method" not in message:
                return message
        raise McpError(INTERNAL_ERROR, "the MCP server answered no response", 502, id)
    try:
        message = loads(body, gateway_settings.MAX_JSON_DEPTH)
    except ValueError as exc:
        raise McpError(INTERNAL_ERROR, "the MCP server answered no JSON", 502, id) from exc
    if not isinstance(message, dict):
        raise McpError(INTERNAL_ERROR, "the MCP server answered no response", 502, id)
    return message


def event_data(body: bytes) -> list[str]:
    """The `data` of each event of a server-sent event stream (lines joined)."""
    events, lines = [], []
    for line in body.decode(errors="replace").splitlines():
        if not line:
            if lines:
                events.append("\n".join(lines))
            lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
    if lines:
        events.append("\n".join(lines))
    return events
