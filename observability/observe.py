"""The end of a proxied request: its metrics, its access-log line and its rollup, in one call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gateway_project.conf import gateway_settings
from observability import metrics as m
from observability.access_log import access_log, timestamp
from observability.rollups import latency_bucket, rollups, status_class
from plugins.registry import registry
from plugins.sdk.context import Finding, LLMCall, Verdict

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


def observe(record: RequestRecord) -> None:
    """Count `record` in the Prometheus series, log it, add it to its gateway's minute."""
    now = time.time()
    seconds = time.perf_counter() - record.started
    if record.gateway and gateway_settings.METRICS:
        decided = decisions(record)
        with m.pending.lock:
            _count(record, seconds, decided)
        rollups.add(record.gateway_id, now, _rollup_fields(record, seconds, decided))
    if access_log.enabled:
        access_log.write(log_entry(record, now, seconds))


def _count(record: RequestRecord, seconds: float, decided: set[tuple[str, str]]) -> None:
    gateway, rule = record.gateway, record.rule
    method = record.method if record.method in KNOWN_METHODS else "OTHER"
    pending = m.pending
    pending.inc(m.REQUESTS, (gateway, rule, method, str(record.status)))
    pending.observe(m.DURATION, (gateway, rule), seconds)
    if record.upstream_ms is not None:
        upstream, target = m.upstream_labels(record.target_key)
        pending.observe(m.UPSTREAM_DURATION, (gateway, upstream, target), record.upstream_ms / 1000)
    for plugin, decision in decided:
        pending.inc(m.PLUGIN_DECISIONS, (gateway, plugin, decision))
    for finding in record.findings:
        if finding.action == "blocked" and limits_rate(finding.plugin):
            pending.inc(m.RATE_LIMIT_REJECTIONS, (gateway, finding.kind))
    if record.llm is not None:
        _count_llm(gateway, record.llm)


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


def _count_llm(gateway: str, llm: LLMCall) -> None:
    model = model_label(gateway, llm.provider, llm.model)
    for kind, tokens in (("prompt", llm.prompt_tokens), ("completion", llm.completion_tokens)):
        if tokens:
            m.pending.inc(m.LLM_TOKENS, (gateway, llm.provider, model, kind), tokens)
    if llm.cost:
        m.pending.inc(m.LLM_COST, (gateway, llm.provider, model), llm.cost)


def _rollup_fields(
    record: RequestRecord, seconds: float, decided: set[tuple[str, str]]
) -> dict[str, float]:
    ms = seconds * 1000
    fields: dict[str, float] = {
        "n": 1,
        status_class(record.status): 1,
        "ms": round(ms, 3),
        f"l{latency_bucket(ms)}": 1,
    }
    if record.rule:
        fields[f"rule:{record.rule}"] = 1
    for plugin, decision in decided:
        if decision == "rejected":
            fields[f"rej:{plugin}"] = 1
    llm = record.llm
    if llm is not None:
        fields["tok_in"] = llm.prompt_tokens or 0
        fields["tok_out"] = llm.completion_tokens or 0
        fields["cost"] = llm.cost or 0.0
    return fields


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
    if record.findings:
        entry["findings"] = [f"{f.plugin}:{f.kind}:{f.action}" for f in record.findings]
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
    return entry
