"""The end of a proxied request: its metrics, its access-log line and its rollup, in one call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gateway_project.conf import gateway_settings
from observability import metrics as m
from observability.access_log import access_log, timestamp
from observability.rollups import request_fields, rollups
from observability.tracing.spans import RequestTrace
from plugins.registry import registry
from plugins.sdk.cache import HIT
from plugins.sdk.context import Finding, LLMCall, Verdict
from plugins.sdk.mcp import MAX_TOOL_NAME, ToolCall

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
VERDICT_DECISIONS = {
    "continue": "allowed",
    "answer": "allowed",
    "reject": "rejected",
    "fail_open": "error",
    "fail": "error",
}
FINDING_DECISIONS = {
    "blocked": "rejected",
    "masked": "masked",
    "sanitized": "masked",
    "restored": "masked",
    "logged": "logged",
    "error": "error",
}
MAX_MODELS = 50  # distinct model label values per process; more are counted as "other"
MAX_TOOLS = 200  # distinct MCP tool label values per gateway and server; more are "other"
MAX_PATH_LOGGED = 2048


@dataclass
class RequestRecord:
    """What the proxy learnt about one request, filled in as its phases run."""

    started: float  # time.perf_counter() when it arrived
    request_id: str
    method: str
    path: str
    client_ip: str
    gateway: str = ""  # the subdomain, once the gateway is resolved (never an unknown one)
    gateway_id: str = ""
    rule: str = ""
    status: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    upstream_ms: float | None = None
    target_key: str = ""  # `<upstream id>:<position>` or `service:<id>`, never a URL
    api_key_id: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    llm: LLMCall | None = None
    stream: str = ""  # a streamed answer's end: "complete", or "broken" (the upstream broke off)
    trace: RequestTrace | None = None  # when its gateway is traced
    tool_call: ToolCall | None = None  # an MCP tools/call the gateway read


def observe(record: RequestRecord) -> None:
    """Count `record` in the Prometheus series, log it, add it to its gateway's minute (what
    each gets is worked out first, then handed over)."""
    now = time.time()
    seconds = time.perf_counter() - record.started
    counted = bool(record.gateway) and gateway_settings.METRICS
    entry = log_entry(record, now, seconds) if access_log.enabled else None
    if counted:
        decided = decisions(record)
        limited = [
            f.kind for f in record.findings if f.action == "blocked" and limits_rate(f.plugin)
        ]
        llm = record.llm
        model = model_label(record.gateway, llm.provider, llm.model) if llm is not None else ""
        with m.pending.lock:
            _count(record, seconds, decided, limited, model)
        fields = request_fields(record.status, record.rule, seconds * 1000, decided, llm)
        rollups.add_request(record.gateway_id, now, fields)
    if entry is not None:
        access_log.write(entry)


def _count(
    record: RequestRecord,
    seconds: float,
    decided: set[tuple[str, str]],
    rate_limited: list[str],
    model: str,
) -> None:
    """`record`'s samples: `rate_limited` the scopes of its rate-limit rejections, `model` the
    label of its LLM call's model."""
    gateway, rule = record.gateway, record.rule
    method = record.method if record.method in KNOWN_METHODS else "OTHER"
    pending = m.pending
    pending.inc(m.REQUESTS, (gateway, rule, method, str(record.status)))
    pending.observe(m.DURATION, (gateway, rule), seconds)
    if record.stream == "broken":
        pending.inc(m.BROKEN_STREAMS, (gateway, rule))
    if record.upstream_ms is not None:
        upstream, target = m.upstream_labels(record.target_key)
        pending.observe(m.UPSTREAM_DURATION, (gateway, upstream, target), record.upstream_ms / 1000)
    for plugin, decision in decided:
        pending.inc(m.PLUGIN_DECISIONS, (gateway, plugin, decision))
    for scope in rate_limited:
        pending.inc(m.RATE_LIMIT_REJECTIONS, (gateway, scope))
    llm = record.llm
    if llm is not None and llm.cache:
        pending.inc(m.CACHE_REQUESTS, (gateway, llm.cache))
        if llm.saved_cost:
            pending.inc(m.CACHE_SAVED_COST, (gateway,), llm.saved_cost)
    if llm is not None and llm.cache != HIT:  # a hit used no provider's tokens
        for kind, tokens in (("prompt", llm.prompt_tokens), ("completion", llm.completion_tokens)):
            if tokens:
                pending.inc(m.LLM_TOKENS, (gateway, llm.provider, model, kind), tokens)
        if llm.cost:
            pending.inc(m.LLM_COST, (gateway, llm.provider, model), llm.cost)
    call = record.tool_call
    if call is not None:
        tool = tool_label(gateway, call.server, call.tool)
        pending.inc(m.MCP_TOOL_CALLS, (gateway, call.server, tool, call.outcome))
        pending.observe(
            m.MCP_TOOL_CALL_DURATION, (gateway, call.server, tool), call.duration_ms / 1000
        )


def limits_rate(plugin: str) -> bool:
    plugin_class = registry.get(plugin)
    return plugin_class is not None and plugin_class.limits_rate


def decisions(record: RequestRecord) -> set[tuple[str, str]]:
    """(plugin, decision) pairs of the request, each once: hook verdicts and content findings."""
    verdicts = VERDICT_DECISIONS
    found = {(plugin, verdicts.get(verdict, "error")) for plugin, _, verdict in record.verdicts}
    found.update(
        (finding.plugin, FINDING_DECISIONS.get(finding.action, "error"))
        for finding in record.findings
    )
    return found


_models: dict[tuple[str, str], set[str]] = {}


def model_label(gateway: str, provider: str, model: str) -> str:
    """The model as a label: the first MAX_MODELS names seen per gateway and provider."""
    seen = _models.setdefault((gateway, provider), set())
    if model in seen:
        return model
    if len(seen) >= MAX_MODELS or len(model) > 100 or not model.isprintable():
        return "other"
    seen.add(model)
    return model


_tools: dict[tuple[str, str], set[str]] = {}


def tool_label(gateway: str, server: str, tool: str) -> str:
    """The tool as a label: the first MAX_TOOLS names seen per gateway and server (a client
    may name tools no server has)."""
    seen = _tools.setdefault((gateway, server), set())
    if tool in seen:
        return tool
    if len(seen) >= MAX_TOOLS or len(tool) > MAX_TOOL_NAME or not tool.isprintable():
        return "other"
    seen.add(tool)
    return tool


def log_entry(record: RequestRecord, now: float, seconds: float) -> dict[str, Any]:
    """The access-log line of `record`: ids and names only."""
    entry: dict[str, Any] = {
        "time": timestamp(now),
        "type": "request",
        "request_id": record.request_id,
        "gateway": record.gateway or None,
        "rule": record.rule or None,
        "method": record.method,
        "path": record.path[:MAX_PATH_LOGGED],
        "status": record.status,
        "bytes_in": record.bytes_in,
        "bytes_out": record.bytes_out,
        "total_ms": round(seconds * 1000, 3),
        "upstream_ms": None if record.upstream_ms is None else round(record.upstream_ms, 3),
        "client_ip": record.client_ip,
        "api_key_id": record.api_key_id,
        "target": record.target_key or None,
        "verdicts": [f"{plugin}:{stage}:{decision}" for plugin, stage, decision in record.verdicts],
    }
    if record.stream:
        entry["stream"] = record.stream
    if record.trace is not None:
        entry["trace_id"], entry["span_id"] = record.trace.trace_id, record.trace.span_id
    if record.findings:
        entry["findings"] = [f"{f.plugin}:{f.kind}:{f.action}" for f in record.findings]
    if record.tool_call is not None:
        call = record.tool_call
        entry["mcp"] = {
            "server": call.server,
            "tool": call.name,
            "outcome": call.outcome,
            "duration_ms": round(call.duration_ms, 3),
        }
    if record.llm is not None:
        llm = record.llm
        entry["llm"] = {
            "provider": llm.provider,
            "model": llm.model,
            "prompt_tokens": llm.prompt_tokens,
            "completion_tokens": llm.completion_tokens,
            "total_tokens": llm.total_tokens,
            "cost": llm.cost,
        }
        if llm.cache:
            entry["llm"]["cache"] = llm.cache
            entry["llm"]["saved_cost"] = llm.saved_cost
    return entry
