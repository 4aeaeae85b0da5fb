"""The rows of the benchmark: direct upstream, nginx proxy_pass and four gateway setups."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import requests

from bench.config import CHAT_REQUEST, OPT_IN_WORKLOADS, ORIGIN
from bench.gateway import AdminApiError, AdminClient, GatewayServer
from bench.llm_upstream import anthropic_events
from bench.nginx import SSE_HOST
from bench.servers import Servers
from bench.sse_client import StreamRequest

# The highest limit the rate_limiter accepts (10M a minute): never reached here.
HIGH_LIMIT = {"limit": 10_000_000, "window": "1m"}
PLUGIN_SETTINGS: dict[str, dict[str, Any]] = {
    "rate_limiter": {
        "limits": {"global": HIGH_LIMIT, "per_ip": HIGH_LIMIT, "per_user": HIGH_LIMIT},
        "actions": {"type": "reject", "retry_after": "60"},
    },
    "request_size_limiter": {"allowed_payload_size": 1, "size_unit": "megabytes"},
    "cors": {"allowed_origins": [ORIGIN], "allowed_methods": ["GET", "POST"]},
    "ip_whitelist": {"cidrs": ["127.0.0.0/8", "::1/128"]},
    # Every injection type, in headers, path, query and body (the chat4k workload shows the
    # cost on a 4 KB prompt).
    "injection_protection": {"content_to_check": ["all"], "action": "block", "status_code": 403},
    "data_masking": {"apply_all": True},
    "response_cache": {"ttl": "1h"},
    # A verdict service answering at once (the mock upstream's /json): the guardrail's own cost,
    # one pooled HTTP round trip per checked request, none of a real service's latency.
    "external_api": {
        "endpoint": "http://127.0.0.1:{upstream_port}/json",
        "conditions": [{"field": "flagged", "operator": "eq", "value": True, "stop_flow": True}],
    },
}
PREFERRED_STAGE = "pre_request"
PLACEHOLDER_KEY = "gk_" + "0" * 43


@dataclass
class Target:
    """One way of reaching the mock upstream, and the processes whose cost it reports."""

    key: str
    label: str
    port: int
    host: str
    sse_port: int
    sse_host: str
    pids: Callable[[], list[int]]
    redis_pids: Callable[[], list[int]] = list
    api_key: str = ""
    sse_api_key: str = ""
    notes: list[str] = field(default_factory=list)
    broken: str = ""
    auth_headers: dict[str, str] = field(default_factory=dict)  # a peer's own key header
    workloads: frozenset[str] | None = None  # None: every workload
    unsupported: str = ""  # why the other workloads are skipped
    sse_request: StreamRequest = StreamRequest()
    sse_reference: str = "direct"  # the row its `added` TTFB is measured against

    def measures(self, workload: str) -> bool:
        if self.workloads is None:
            return workload not in OPT_IN_WORKLOADS
        return workload in self.workloads

    def headers(self, api_key: str) -> dict[str, str]:
        """The headers every row sends (the key is meaningless, but present, without a gateway)."""
        return {
            "Host": self.host,
            "X-API-Key": self.api_key or api_key,
            "Origin": ORIGIN,
            "Accept": "application/json",
            "Content-Type": "application/json",
            **self.auth_headers,
        }

    def skip_reason(self, workload: str) -> str:
        """Why this row does not run `workload` ('' when it does)."""
        if self.broken:
            return self.broken
        if self.workloads is not None and workload not in self.workloads:
            return self.unsupported
        return ""

    def sse_headers(self, api_key: str) -> dict[str, str]:
        return {"X-API-Key": self.sse_api_key or api_key, "Origin": ORIGIN}


@dataclass(frozen=True)
class GatewayRow:
    key: str
    label: str
    public: bool
    plugins: tuple[str, ...]
    observed: bool = True  # metrics and access log on (the default), else a gateway with both off
    traced: bool = False  # every request traced (full sampling) to the mock upstream's /v1/traces
    workloads: frozenset[str] | None = None  # None: every workload


GATEWAY_ROWS = (
    GatewayRow("gateway-a", "gateway (a) no plugins", True, ()),
    GatewayRow(
        "gateway-a-unobserved", "gateway (a) metrics + access log off", True, (), observed=False
    ),
    GatewayRow(  # the chat request is enough to weigh the spans
        "gateway-a-traced",
        "gateway (a) traced (OTLP, every request)",
        True,
        (),
        traced=True,
        workloads=frozenset({"chat"}),
    ),
    GatewayRow("gateway-b", "gateway (b) key + rate_limiter", False, ("rate_limiter",)),
    # Before (c): the profile is taken on the last gateway row, the one with the most plugins.
    GatewayRow(
        "gateway-threats",
        "gateway key + injection_protection (all types)",
        False,
        ("injection_protection",),
    ),
    GatewayRow(
        "gateway-c",
        "gateway (c) (b) + traffic control",
        False,
        ("rate_limiter", "ip_whitelist", "request_size_limiter", "cors"),
    ),
    GatewayRow("gateway-k", "gateway (k) key only", False, ()),
    GatewayRow(
        "gateway-m", "gateway (m) key + data_masking (all entities)", False, ("data_masking",)
    ),
    GatewayRow(
        "gateway-d",
        "gateway (g) (b) + external_api guardrail",
        False,
        ("rate_limiter", "external_api"),
    ),
)
GATEWAY_KEYS = frozenset(row.key for row in GATEWAY_ROWS)
# The LLM front: the OpenAI SDK's chat request, to an OpenAI-format mock (passed on unchanged)
# or to an Anthropic-format mock (translated both ways, streams included).
# The cached row answers every request but the first from response_cache (a HIT): beside
# `direct-llm` (the same mock without the gateway), what an answer kept in Redis costs.
LLM_ROWS = (
    ("gateway-llm-openai", "gateway (d) LLM front, OpenAI mock (unchanged)", "openai"),
    ("gateway-llm-anthropic", "gateway (e) LLM front, Anthropic mock (translated)", "anthropic"),
    ("gateway-llm-cached", "gateway (h) LLM front + response_cache (HITs)", "openai"),
)
LLM_PLUGINS = {"gateway-llm-cached": ("response_cache",)}
# A HIT replays the kept answer (the chat rows' JSON) as its own chunks, up to `[DONE]`.
LLM_SSE_REQUESTS = {"gateway-llm-cached": StreamRequest(events=0)}
# The same request in the Responses API's shape, translated to the Anthropic-format mock: its
# one workload is `responses` (the LLM rows measure `chat`).
RESPONSES_ROW = (
    "gateway-llm-responses",
    "gateway (e') Responses API, Anthropic mock (translated)",
    "anthropic",
)


def process_tree(pid: int) -> Callable[[], list[int]]:
    """A callable listing `pid` and its children (nginx master and workers)."""

    def pids() -> list[int]:
        try:
            return [pid, *(child.pid for child in psutil.Process(pid).children())]
        except psutil.Error:
            return []

    return pids


def plugin_entry(
    name: str, priority: int, catalogue_entry: dict[str, Any], upstream_port: int
) -> dict[str, Any]:
    stages = catalogue_entry.get("fixed_stages") or catalogue_entry.get("allowed_stages") or []
    stage = PREFERRED_STAGE if PREFERRED_STAGE in stages or not stages else stages[0]
    settings = json.dumps(PLUGIN_SETTINGS[name]).replace("{upstream_port}", str(upstream_port))
    return {
        "name": name,
        "enabled": True,
        "stage": stage,
        "priority": priority,
        "settings": json.loads(settings),
    }


def plugin_chain(
    names: tuple[str, ...], catalogue: dict[str, dict[str, Any]], upstream_port: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """The required_plugins of a row and the names missing from the catalogue."""
    present = [name for name in names if name in catalogue]
    chain = [
        plugin_entry(name, i + 1, catalogue[name], upstream_port) for i, name in enumerate(present)
    ]
    return chain, [name for name in names if name not in catalogue]


def gateway_target(
    row: GatewayRow,
    server: GatewayServer,
    admin: AdminClient,
    catalogue: dict[str, dict[str, Any]],
    ports: tuple[int, int],
) -> Target:
    """Configure a gateway for `row` (plus a twin routed to the SSE upstream)."""
    upstream_port, sse_port = ports
    subdomain = f"bench-{row.key.removeprefix('gateway-')}"
    target = Target(
        key=row.key,
        label=row.label,
        port=server.port,
        host=f"{subdomain}.localhost",
        sse_port=server.port,
        sse_host=f"{subdomain}-sse.localhost",
        pids=server.pids,
        redis_pids=server.redis_pids,
    )
    target.workloads = row.workloads
    chain, missing = plugin_chain(row.plugins, catalogue, upstream_port)
    if missing:
        target.notes.append("missing plugins (skipped): " + ", ".join(missing))
    exporter = {"name": "otlp", "settings": {"endpoint": f"http://127.0.0.1:{upstream_port}"}}
    telemetry = {"exporters": [exporter]} if row.traced else None
    try:
        target.api_key = admin.create_route(
            subdomain=subdomain,
            plugins=chain,
            port=upstream_port,
            public=row.public,
            telemetry=telemetry,
        )
        target.sse_api_key = admin.create_route(
            subdomain=f"{subdomain}-sse", plugins=chain, port=sse_port, public=row.public
        )
    except (AdminApiError, requests.RequestException) as exc:
        target.broken = f"configuration failed: {exc}"
    return target


def llm_target(
    key: str,
    label: str,
    provider: str,
    server: GatewayServer,
    admin: AdminClient,
    port: int,
    workload: str = "chat",
) -> Target:
    """A gateway whose rule `/v1/*` is the LLM front of one `provider` target (the mock),
    measured on one `workload`."""
    subdomain = f"bench-{key.removeprefix('gateway-')}"
    host = f"{subdomain}.localhost"
    target = Target(
        key, label, server.port, host, server.port, host, server.pids, server.redis_pids
    )
    target.workloads = frozenset({workload})
    target.sse_reference = "direct-llm-anthropic" if provider == "anthropic" else "direct-llm"
    target.sse_request = LLM_SSE_REQUESTS.get(key, target.sse_request)
    try:
        catalogue = admin.plugin_catalogue() if key in LLM_PLUGINS else {}
        chain, missing = plugin_chain(LLM_PLUGINS.get(key, ()), catalogue, port)
        if missing:
            target.notes.append("missing plugins (skipped): " + ", ".join(missing))
        target.api_key = target.sse_api_key = admin.create_llm_route(
            subdomain=subdomain,
            provider=provider,
            port=port,
            model=CHAT_REQUEST["model"],
            plugins=chain,
        )
    except (AdminApiError, requests.RequestException) as exc:
        target.broken = f"configuration failed: {exc}"
    return target


def reference_targets(servers: Servers) -> list[Target]:
    """The rows without the gateway: the upstream itself and nginx in front of it."""
    host = "bench-direct.localhost"
    direct = Target(
        key="direct",
        label="direct upstream",
        port=servers.upstream.port,
        host=host,
        sse_port=servers.sse_port,
        sse_host=host,
        pids=process_tree(servers.upstream.pid),
    )
    nginx = Target(
        key="nginx",
        label="nginx proxy_pass",
        port=servers.proxy.port,
        host=host,
        sse_port=servers.proxy.port,
        sse_host=SSE_HOST,
        pids=process_tree(servers.proxy.pid),
    )
    direct_llm = Target(
        key="direct-llm",
        label="direct LLM mock (OpenAI)",
        port=servers.llm_port,
        host=host,
        sse_port=servers.llm_port,
        sse_host=host,
        pids=list,
        workloads=frozenset({"chat"}),
        unsupported="the LLM mock answers chat only",
        sse_reference="direct-llm",
    )
    # The reference of the translated row's stream: the Anthropic-format mock's own.
    direct_anthropic = Target(
        key="direct-llm-anthropic",
        label="direct LLM mock (Anthropic)",
        port=servers.llm_port,
        host=host,
        sse_port=servers.llm_port,
        sse_host=host,
        pids=list,
        workloads=frozenset(),
        unsupported="measured for SSE only",
        sse_request=StreamRequest(path="/v1/messages", events=len(anthropic_events())),
        sse_reference="direct-llm-anthropic",
    )
    return [direct, nginx, direct_llm, direct_anthropic]


def broken_target(key: str, label: str, reason: str) -> Target:
    return Target(key, label, 0, "", 0, "", list, broken=reason)


def gateway_targets(servers: Servers) -> list[Target]:
    """The gateway rows, configured through the admin API (marked broken if that fails)."""
    ports = (servers.upstream.port, servers.sse_port)
    targets = []
    for row in GATEWAY_ROWS:
        gateway = servers.gateway if row.observed else servers.unobserved
        if gateway is None:
            error = servers.gateway_error if row.observed else servers.unobserved_error
            targets.append(broken_target(row.key, row.label, error))
            continue
        admin = AdminClient(gateway.base_url, gateway.token)
        try:
            catalogue = admin.plugin_catalogue()
        except (AdminApiError, requests.RequestException) as exc:
            targets.append(broken_target(row.key, row.label, f"plugin catalogue: {exc}"))
            continue
        targets.append(gateway_target(row, gateway, admin, catalogue, ports))
    if servers.gateway is None:
        rows = (*LLM_ROWS, RESPONSES_ROW)
        return targets + [broken_target(*row[:2], servers.gateway_error) for row in rows]
    admin = AdminClient(servers.gateway.base_url, servers.gateway.token)
    gateway, port = servers.gateway, servers.llm_port
    responses = llm_target(*RESPONSES_ROW, gateway, admin, port, workload="responses")
    return targets + [llm_target(*row, gateway, admin, port) for row in LLM_ROWS] + [responses]


def shared_key(targets: list[Target]) -> str:
    """A key of the same shape as the gateway's, sent by the rows that need none."""
    return next((t.api_key for t in targets if t.api_key), PLACEHOLDER_KEY)
