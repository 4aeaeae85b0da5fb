"""The MCP side of a compiled rule: its servers (MCP targets) and the tool names they serve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.balancer import Target

SEPARATOR = "_"  # `<tool_prefix>_<tool>`


@dataclass(frozen=True)
class McpServer:
    target: Target
    prefix: str  # "" when the server's tools keep their names

    def public_name(self, tool: str) -> str:
        return f"{self.prefix}{SEPARATOR}{tool}" if self.prefix else tool


@dataclass(frozen=True)
class McpRoute:
    servers: tuple[McpServer, ...]
    allowed_tools: tuple[tuple[str, ...], ...] = ()  # the gateway's and the rule's lists, set

    def owner_of(self, name: str) -> tuple[McpServer, str] | None:
        """The server of a tool the client names, and the tool's name on that server."""
        for server in self.servers:
            if not server.prefix:
                return server, name
            head, separator, tool = name.partition(SEPARATOR)
            if separator and head == server.prefix and tool:
                return server, tool
        return None


def mcp_route(
    targets: Sequence[Target],
    stored: Sequence[Mapping[str, Any]],
    allowed_tools: Sequence[Sequence[str] | None] = (),
) -> McpRoute | None:
    """The MCP route of a rule whose upstream's targets are MCP servers (None otherwise);
    `allowed_tools`: the gateway's and the rule's lists (None where not set)."""
    if not stored or any(data.get("kind") != "mcp" for data in stored):
        return None
    return McpRoute(
        tuple(
            McpServer(target, data.get("tool_prefix") or "")
            for target, data in zip(targets, stored, strict=True)
        ),
        tuple(tuple(tools) for tools in allowed_tools if tools is not None),
    )
