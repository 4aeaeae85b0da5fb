"""A real MCP server for tests: the official SDK's, streamable HTTP, served by uvicorn in a
thread; its tools echo, name a user by email and delete."""

from __future__ import annotations

import threading

import uvicorn
from mcp.server.mcpserver import MCPServer

from tests.upstream import free_port


def tool_server() -> MCPServer:
    server = MCPServer("tools")

    @server.tool()
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool()
    def whoami() -> str:
        return "you are alice@example.com"

    @server.tool()
    def delete_all() -> str:
        return "deleted"

    return server


class McpUpstream:
    """An MCP server (streamable HTTP, answering with event streams or JSON) in a thread."""

    def __init__(self, *, json_response: bool) -> None:
        self.port = free_port()
        app = tool_server().streamable_http_app(json_response=json_response)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> McpUpstream:
        self.thread.start()
        while not self.server.started:  # uvicorn sets it once listening
            self.thread.join(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
