"""An MCP tool call as the proxy records it for metrics, the access log and the trace."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

ALLOWED, REFUSED, ERROR = "allowed", "refused", "error"
MAX_TOOL_NAME = 128  # MCP's longest tool name; a client may send a longer one


@dataclass
class ToolCall:
    """A `tools/call` the gateway read: the server that owns the tool, the tool as the client
    names it, and how it ended (the server answered a result, the gateway refused it, or it
    failed) after how long, from the call read to its answer."""

    server: str  # the server's tool_prefix, else its target's key
    tool: str
    started: float = field(default_factory=time.perf_counter)
    started_ns: int = field(default_factory=time.time_ns)  # the span's start
    outcome: str = ""  # ALLOWED, REFUSED or ERROR; "" until known
    duration_ms: float = 0.0

    @property
    def name(self) -> str:
        """The tool's name as logs and spans show it (cut at MAX_TOOL_NAME)."""
        return self.tool[:MAX_TOOL_NAME]

    def ended(self, outcome: str) -> None:
        """The call's outcome, the first one told."""
        if not self.outcome:
            self.outcome = outcome
            self.duration_ms = (time.perf_counter() - self.started) * 1000

    def settled(self, status: int) -> None:
        """At the request's end: a call not ended yet was refused by a plugin (a 4xx answer)
        or failed (no server answer: 5xx)."""
        self.ended(ALLOWED if status < 400 else REFUSED if status < 500 else ERROR)
