"""The Prometheus series (prometheus-client) and their scrape; multiprocess under gunicorn.

Labels are bounded: gateway subdomain, rule id, upstream and target from the configuration,
plugin names from the registry; never a raw path, a key or a client IP. A request adds its
counts to this worker's `pending` sums (dict updates); the rollup flusher moves them into the
shared metric files once a second (one write per label set, not one per request), as does a
scrape served by this worker and a worker's exit.
"""

from __future__ import annotations

import bisect
import functools
import hmac
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from gevent.monkey import get_original
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from gateway_project import env
from gateway_project.conf import gateway_settings
from gateway_project.responses import json_error

MULTIPROCESS_DIRECTORY = env.read("PROMETHEUS_MULTIPROC_DIR")  # set by the gunicorn master
if MULTIPROCESS_DIRECTORY:  # any process of the deployment (manage.py too) writes files there
    Path(MULTIPROCESS_DIRECTORY).mkdir(parents=True, exist_ok=True)

# Seconds; shared with the monitoring rollups (their latency buckets are the same).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter("gateway_requests", "Proxied requests.", ["gateway", "rule", "method", "status"])
DURATION = Histogram(
    "gateway_request_duration_seconds",
    "Total time of a proxied request, to its last byte.",
    ["gateway", "rule"],
    buckets=LATENCY_BUCKETS,
)
BROKEN_STREAMS = Counter(
    "gateway_broken_streams",
    "Streamed answers whose upstream broke off before their end (the client saw an error).",
    ["gateway", "rule"],
)
UPSTREAM_DURATION = Histogram(
    "gateway_upstream_duration_seconds",
    "Time from sending to an upstream target to its response head.",
    ["gateway", "upstream", "target"],
    buckets=LATENCY_BUCKETS,
)
PLUGIN_DECISIONS = Counter(
    "gateway_plugin_decisions",
    "Plugin decisions: allowed, rejected, masked, logged, error.",
    ["gateway", "plugin", "decision"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "gateway_rate_limit_rejections", "Requests refused by a rate limit.", ["gateway", "scope"]
)
LLM_TOKENS = Counter("gateway_llm_tokens", "LLM tokens.", ["gateway", "provider", "model", "kind"])
LLM_COST = Counter("gateway_llm_cost", "LLM cost (USD).", ["gateway", "provider", "model"])
CACHE_REQUESTS = Counter(
    "gateway_cache_requests",
    "LLM requests a response cache looked at, by result: HIT, MISS, BYPASS.",
    ["gateway", "result"],
)
CACHE_SAVED_COST = Counter(
    "gateway_cache_saved_cost",
    "What the answers served from a response cache cost (USD).",
    ["gateway"],
)
MCP_TOOL_CALLS = Counter(
    "gateway_mcp_tool_calls",
    "MCP tools/call requests by outcome: allowed (the server's result), refused (by the "
    "gateway: tools not allowed, a plugin), error (the server's error or no answer).",
    ["gateway", "server", "tool", "outcome"],
)
MCP_TOOL_CALL_DURATION = Histogram(
    "gateway_mcp_tool_call_duration_seconds",
    "Time of an MCP tools/call, from the call read to its answer.",
    ["gateway", "server", "tool"],
    buckets=LATENCY_BUCKETS,
)
ACTIVE_STREAMS = Gauge(
    "gateway_active_streams", "Responses being streamed now.", multiprocess_mode="livesum"
)
ACTIVE_WEBSOCKETS = Gauge(
    "gateway_active_websockets",
    "WebSocket connections being relayed now.",
    multiprocess_mode="livesum",
)
TARGET_HEALTHY = Gauge(
    "gateway_upstream_target_healthy",
    "1 while passive health lets the target take traffic first, 0 while it cools down.",
    ["upstream", "target"],
    multiprocess_mode="livemostrecent",
)
CONFIG_RELOADS = Counter("gateway_config_reloads", "Gateway snapshots (re)built from the database.")
SPANS_DROPPED = Counter(
    "gateway_trace_spans_dropped",
    "Trace spans lost: the export queue was full, or the collector failed or did not answer.",
    ["reason"],
)

_children: dict[tuple[Any, ...], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, bound once per label set."""
    key = (metric, *labels)
    bound = _children.get(key)
    if bound is None:
        bound = _children[key] = metric.labels(*labels)
    return bound


def section_lock() -> Any:
    """The operating system's lock, even under gevent's monkey-patching, for critical sections
    that never yield (dict updates, swaps): no other greenlet can run inside one, so greenlets
    never wait on it, and real threads (the tests' flusher) still do. gevent's patched Lock costs
    twice as much per section; it is only needed around a section that may switch greenlets."""
    return get_original("threading", "Lock")()


class PendingSeries:
    """This worker's counter increments, histogram observations and open streams since the
    last flush, moved into the metric files by `flush()`."""

    def __init__(self) -> None:
        self.lock = section_lock()  # held by a request adding its counts, and by the flush
        self._counts: defaultdict[tuple[Any, ...], float] = defaultdict(float)
        self._observed: dict[tuple[Any, ...], list[Any]] = {}
        self.open_streams = 0
        self._open_streams_written: int | None = None

    def inc(self, metric: Counter, labels: tuple[str, ...], amount: float = 1.0) -> None:
        """Add `amount` (callers hold `lock`, once for all of a request's counts)."""
        self._counts[(metric, *labels)] += amount

    def observe(self, metric: Histogram, labels: tuple[str, ...], value: float) -> None:
        """One observation: its sum and its bucket, as Histogram.observe counts them."""
        key = (metric, *labels)
        sums = self._observed.get(key)
        if sums is None:
            sums = self._observed[key] = [0.0, [0] * (len(metric._upper_bounds))]
        sums[0] += value
        sums[1][bisect.bisect_left(metric._upper_bounds, value)] += 1

    def flush(self) -> None:
        with self.lock:
            counts, self._counts = self._counts, defaultdict(float)
            observed, self._observed = self._observed, {}
        for (metric, *labels), amount in counts.items():
            child(metric, *labels).inc(amount)
        for (metric, *labels), (total, buckets) in observed.items():
            bound = child(metric, *labels)
            bound._sum.inc(total)
            for index, count in enumerate(buckets):
                if count:
                    bound._buckets[index].inc(count)
        if self.open_streams != self._open_streams_written:
            self._open_streams_written = self.open_streams
            ACTIVE_STREAMS.set(self.open_streams)


pending = PendingSeries()


@functools.lru_cache(maxsize=4096)
def upstream_labels(target_key: str) -> tuple[str, str]:
    """(upstream, target): the upstream's id (or `service:<id>`), the target's position in it.
    Never its URL: a label is a name, and a URL may carry what must not be shown."""
    if target_key.startswith("service:"):
        return target_key, "0"
    upstream, _, index = target_key.rpartition(":")
    return upstream or target_key, index


_health: dict[str, bool] = {}


def target_health(target_key: str, healthy: bool) -> None:
    """Where passive health marks a target up or down (written only when it changes)."""
    if _health.get(target_key) is not healthy:
        _health[target_key] = healthy
        child(TARGET_HEALTHY, *upstream_labels(target_key)).set(1 if healthy else 0)


def config_reloaded() -> None:
    CONFIG_RELOADS.inc()


def spans_dropped(reason: str, count: int) -> None:
    """Spans the tracer lost (`queue_full`, `export_failed`): counted where it happens, off the
    request's path but for a full queue (rare, and a sign to look at the collector)."""
    child(SPANS_DROPPED, reason).inc(count)


def scrape() -> bytes:
    """The text exposition: every worker's values (multiprocess), else this process's; this
    worker's pending sums first (the others' are at most a flush interval behind)."""
    pending.flush()
    if not MULTIPROCESS_DIRECTORY:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIRECTORY)
    return generate_latest(registry)


def authorized(request: HttpRequest) -> bool:
    """No token configured, or `Authorization: Bearer <GATEWAY_METRICS_TOKEN>` (constant time)."""
    token = gateway_settings.METRICS_TOKEN
    if not token:
        return True
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = sent.partition(" ")
    presented = value.strip().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(presented, token.encode())


def metrics_response(request: HttpRequest) -> HttpResponse:
    """GET /metrics on the admin plane."""
    if request.method not in ("GET", "HEAD"):
        return json_error(405, "method not allowed", headers={"Allow": "GET, HEAD"})
    if not authorized(request):
        return json_error(401, "metrics token required", headers={"WWW-Authenticate": "Bearer"})
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
