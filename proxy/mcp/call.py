"""One request to a rule's MCP endpoint: read before the plugins (the tool and whether the key
may call it), served after them (sessions, tools of every server, calls to the owning one)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from requests.structures import CaseInsensitiveDict

from plugins.pipeline import CompiledChain, run_stage
from plugins.sdk import mcp as outcomes
from plugins.sdk.context import RequestContext, ResponseContext
from plugins.sdk.mcp import ToolCall
from proxy.matching import RouteMatch
from proxy.mcp import sessions
from proxy.mcp.jsonrpc import (
    EVENT_STREAM,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    REFUSED,
    McpError,
    answer_of,
    error_answer,
    parse_message,
    result_answer,
)
from proxy.mcp.routes import McpRoute, McpServer
from proxy.mcp.tools import tool_allowed_by
from proxy.outgoing import OutgoingRequest, inject_credentials, route_timeouts, upstream_url
from proxy.streaming import MAX_BUFFERED_BODY, bounded_read
from proxy.upstream import UpstreamResult, send

SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"
ACCEPT = f"application/json, {EVENT_STREAM}"
GATEWAY_INFO = {"name": "gateway", "version": "1"}


@dataclass
class McpCall:
    route: McpRoute
    match: RouteMatch
    allowed: tuple[tuple[str, ...], ...]  # the lists set (gateway, rule, key); none: all tools
    message: dict[str, Any] | None  # None: a GET or DELETE of the endpoint

    def serve(self, request: HttpRequest, chain: CompiledChain, context: RequestContext) -> Any:
        """The answer, after the request's plugins ran (on the body they left)."""
        try:
            return self._serve(request, chain, context)
        except McpError as exc:
            return error_answer(exc)

    def _serve(self, request: HttpRequest, chain: CompiledChain, context: RequestContext) -> Any:
        if self.message is None:
            return self._delete(context) if request.method == "DELETE" else _no_stream()
        message = context.json_body()  # as the plugins left it
        if not isinstance(message, dict):
            raise McpError(INVALID_REQUEST, "Invalid Request", 400)
        method, id = message.get("method"), message.get("id")
        if method == "initialize":
            return self._initialize(message, context)
        servers = self._sessions(context)
        if method is None or "id" not in message:  # a notification, or the client's response
            for index, server in enumerate(self.route.servers):
                self._post(server, servers[index], message, context).close()
            return HttpResponse(status=202)
        if method == "tools/list":
            return self._tools(id, servers, context)
        if method == "tools/call":
            server, tool = self.route.owner_of(context.mcp_tool or "")  # checked when opened
            message = copy.deepcopy(message)
            message["params"]["name"] = tool
            index = self.route.servers.index(server)
            return self._relay(server, servers[index], message, chain, context)
        if method == "ping":
            return result_answer(id, {})
        if len(self.route.servers) == 1:
            return self._relay(self.route.servers[0], servers[0], message, chain, context)
        raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}", id=id)

    def _initialize(self, message: dict[str, Any], context: RequestContext) -> HttpResponse:
        """Initialize every server (and tell it so), answer with a session of the gateway's."""
        server_sessions, results = [], []
        for server in self.route.servers:
            result = self._post(server, "", message, context)
            answer = self._read(result, message.get("id"))
            if "result" not in answer:
                return result_error(answer, message.get("id"))
            session = result.response.headers.get(SESSION_HEADER, "")
            server_sessions.append(session)
            results.append(answer["result"])
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            self._post(server, session, initialized, context).close()
        session_id = sessions.session_open(
            gateway_id=context.gateway_id, api_key_id=context.api_key_id, servers=server_sessions
        )
        result = results[0]
        if len(results) > 1:
            result = {
                "protocolVersion": results[0].get("protocolVersion"),
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": GATEWAY_INFO,
            }
        return result_answer(message.get("id"), result, {SESSION_HEADER: session_id})

    def _tools(self, id: Any, servers: list[str], context: RequestContext) -> HttpResponse:
        """Every server's tools under the names clients see, those the key may use."""
        tools = []
        for index, server in enumerate(self.route.servers):
            asked = {"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {}}
            answer = self._read(self._post(server, servers[index], asked, context), id)
            if "result" not in answer:
                return result_error(answer, id)
            for tool in answer["result"].get("tools") or []:
                name = server.public_name(str(tool.get("name")))
                if tool_allowed_by(name, self.allowed):
                    tools.append({**tool, "name": name})
        return result_answer(id, {"tools": tools})

    def _relay(
        self,
        server: McpServer,
        session: str,
        message: dict[str, Any],
        chain: CompiledChain,
        context: RequestContext,
    ) -> HttpResponse:
        """The server's answer (JSON or an event stream) through the response stages."""
        result = self._post(server, session, message, context)
        try:
            upstream = result.response
            body = bounded_read(upstream, MAX_BUFFERED_BODY)
        finally:
            result.close()
        content_type = upstream.headers.get("Content-Type", "application/json")
        response_context = ResponseContext(
            upstream.status, CaseInsensitiveDict({"Content-Type": content_type}), body
        )
        for stage in ("post_request", "pre_response", "post_response"):
            run_stage(chain, stage, context, response_context)
        if context.tool_call is not None:
            answered = _answered(upstream.status, body, content_type, message.get("id"))
            context.tool_call.ended(outcomes.ALLOWED if answered else outcomes.ERROR)
        response = HttpResponse(
            response_context.body, status=response_context.status, content_type=content_type
        )
        for name, value in context.response_headers.items():
            response[name] = value
        return response

    def _delete(self, context: RequestContext) -> HttpResponse:
        servers = self._sessions(context)
        for index, server in enumerate(self.route.servers):
            self._send(server, servers[index], "DELETE", b"", context).close()
        session_id = context.headers.get(SESSION_HEADER, "")
        sessions.session_close(gateway_id=context.gateway_id, session_id=session_id)
        return HttpResponse(status=200)

    def _sessions(self, context: RequestContext) -> list[str]:
        """The servers' sessions of the client's session (400 without one, 404 once gone)."""
        session_id = context.headers.get(SESSION_HEADER)
        if not session_id:
            raise McpError(INVALID_REQUEST, f"Bad Request: {SESSION_HEADER} required", 400)
        servers = sessions.session_servers(
            gateway_id=context.gateway_id, api_key_id=context.api_key_id, session_id=session_id
        )
        if servers is None or len(servers) != len(self.route.servers):
            raise McpError(INVALID_REQUEST, "Session not found", 404)
        return servers

    def _read(self, result: UpstreamResult, id: Any) -> dict[str, Any]:
        try:
            body = bounded_read(result.response, MAX_BUFFERED_BODY)
        finally:
            result.close()
        return answer_of(body, result.response.headers.get("Content-Type", ""), id)

    def _post(
        self, server: McpServer, session: str, message: Mapping[str, Any], context: RequestContext
    ) -> UpstreamResult:
        return self._send(server, session, "POST", json.dumps(message).encode(), context)

    def _send(
        self, server: McpServer, session: str, method: str, body: bytes, context: RequestContext
    ) -> UpstreamResult:
        """One request to a server: its own session and credentials; of the client's headers
        only the protocol version (never its key, cookies or address)."""
        target = server.target
        headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", "Accept": ACCEPT, "Accept-Encoding": "identity"}
        )
        headers["X-Request-ID"] = context.request_id
        if version := context.headers.get(VERSION_HEADER):
            headers[VERSION_HEADER] = version
        if session:
            headers[SESSION_HEADER] = session
        headers.update(self.match.route.headers)
        headers.update(target.headers)
        body = inject_credentials(target, headers, body)
        url = upstream_url(target, target.path, "")
        outgoing = OutgoingRequest(method, url, headers, body, route_timeouts(self.match.route))
        balancer = self.match.route.balancer
        return send(balancer, [target], lambda _: outgoing, context.trace)


def open_mcp_call(
    route: McpRoute | None,
    match: RouteMatch,
    tools_of_keys: Mapping[str, tuple[str, ...] | None],
    context: RequestContext,
) -> McpCall | None:
    """The MCP request of a rule fronting MCP servers, read before the plugins: the tool a
    tools/call names (`context.mcp_tool`, which the rate limiter counts by) and whether the
    key may call it. None on other rules."""
    if route is None:
        return None
    key_tools = tools_of_keys.get(context.api_key_id or "")
    allowed = (*route.allowed_tools, *(() if key_tools is None else (key_tools,)))
    if context.method != "POST":
        return McpCall(route, match, allowed, None)
    message = parse_message(context.body)
    if message.get("method") == "tools/call":
        id = message.get("id")
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        owner = route.owner_of(name) if isinstance(name, str) else None
        if owner is None:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name}", id=id)
        server = owner[0]
        context.tool_call = ToolCall(server.prefix or server.target.key, name)
        if not tool_allowed_by(name, allowed):
            context.tool_call.ended(outcomes.REFUSED)
            raise McpError(REFUSED, f"Tool not allowed for this key: {name}", 403, id)
        context.mcp_tool = name
    return McpCall(route, match, allowed, message)


def result_error(answer: dict[str, Any], id: Any) -> HttpResponse:
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    raise McpError(int(error.get("code", -32603)), str(error.get("message", "error")), id=id)


def _answered(status: int, body: bytes, content_type: str, id: Any) -> bool:
    """Whether a server answered a tools/call with a result that is no error (`isError`)."""
    if status >= 400:
        return False
    try:
        answer = answer_of(body, content_type, id)
    except McpError:
        return False
    result = answer.get("result")
    return isinstance(result, dict) and not result.get("isError")


def _no_stream() -> HttpResponse:
    """GET: the endpoint offers no stream of its own (the spec's 405)."""
    return HttpResponse(status=405, headers={"Allow": "POST, DELETE"})
