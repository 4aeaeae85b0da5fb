"""What plugins and the proxy share about one request: its contexts, how a plugin answers or
rejects it, the verdicts and findings recorded on it, and the LLM call it makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from requests.structures import CaseInsensitiveDict

from gateway_project.bounded_json import JSONRefused, loads
from gateway_project.conf import gateway_settings
from plugins.sdk.mcp import ToolCall
from plugins.sdk.tracing import Trace


class PluginRejection(Exception):
    """Raised by a plugin hook to answer the client at once with `status` and a JSON error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        retry_after: int | str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.retry_after = retry_after


class PluginResponse(Exception):
    """Raised by a plugin hook that answers the request itself (e.g. a CORS preflight): the
    client gets `status`, `headers` (over the request's `response_headers`) and `body`; the
    upstream is not called."""

    def __init__(
        self, status: int, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        super().__init__(status)
        self.status = status
        self.headers = dict(headers or {})
        self.body = body


# What one plugin hook decided: (plugin name, stage, decision); decisions are "continue",
# "answer" (PluginResponse), "reject" (PluginRejection), "fail_open" and "fail".
Verdict = tuple[str, str, str]


@dataclass(frozen=True)
class Finding:
    """What a content plugin found and did, for logs and metrics: `kind` names the detector,
    entity or rule (never the matched text); `action` is one of "blocked", "masked",
    "sanitized", "logged", "restored", "error"."""

    plugin: str
    kind: str
    action: str


@dataclass
class LLMCall:
    """The LLM side of a request routed to a provider target: who answered, tokens, cost."""

    provider: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    # The response cache's HIT, MISS or BYPASS (plugins.sdk.cache); a hit costs 0 and saved
    # what its provider call cost.
    cache: str = ""
    saved_cost: float | None = None
    cached_tokens: int | None = None  # of the prompt's, read from the provider's prompt cache
    reasoning_tokens: int | None = None  # of the completion's
    finish_reasons: tuple[str, ...] = ()  # as the answer reports them, one per choice


@dataclass
class RequestContext:
    """One proxied request as plugins see it; `headers` and `body` may be changed in pre_request."""

    request_id: str
    method: str
    path: str
    query_string: str
    headers: CaseInsensitiveDict
    body: bytes
    client_ip: str
    gateway_id: str
    rule_id: str = ""
    api_key_id: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    llm: LLMCall | None = None  # set by the proxy when the rule routes to a provider target
    trace: Trace | None = None  # set by the proxy when the request is traced
    mcp_tool: str | None = None  # the tool of an MCP tools/call, as the client names it
    tool_call: ToolCall | None = None  # that call, for metrics, access log and trace

    def json_body(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON (parsed once per body).

        A body nested deeper than MAX_JSON_DEPTH, or repeating a key in an object, is refused
        (400): a plugin never sees it, and no plugin can fail open on it."""
        cached = self.metadata.get("_json_body")
        if cached is None or cached[0] is not self.body:  # parsed again once a plugin rewrote it
            try:
                parsed = loads(self.body, gateway_settings.MAX_JSON_DEPTH) if self.body else None
            except JSONRefused as exc:
                raise PluginRejection(400, str(exc)) from exc
            except ValueError:  # UnicodeDecodeError included
                parsed = None
            cached = self.metadata["_json_body"] = (self.body, parsed)
        return cached[1]

    def replace_body(self, body: bytes, parsed: Any = None, *, known: bool = False) -> None:
        """A plugin rewrote the body: Content-Length follows; `parsed` (when `known`) is the
        new body's JSON, so json_body() need not parse it again."""
        self.body = body
        if "Content-Length" in self.headers:
            self.headers["Content-Length"] = str(len(body))
        if known:
            self.metadata["_json_body"] = (body, parsed)


@dataclass
class ResponseContext:
    """The upstream's answer; `body` is None while the body is streamed to the client."""

    status: int
    headers: CaseInsensitiveDict
    body: bytes | None = None
    streamed: bool = False
