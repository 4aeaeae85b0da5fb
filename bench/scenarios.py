"""The rows of the benchmark: direct upstream, nginx proxy_pass and three gateway setups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import requests

from bench.config import ORIGIN
from bench.gateway import AdminApiError, AdminClient, GatewayServer
from bench.servers import Servers

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


GATEWAY_ROWS = (
    GatewayRow("gateway-a", "gateway (a) no plugins", True, ()),
    GatewayRow("gateway-b", "gateway (b) key + rate_limiter", False, ("rate_limiter",)),
    GatewayRow(
        "gateway-c",
        "gateway (c) (b) + traffic control",
        False,
        ("rate_limiter", "ip_whitelist", "request_size_limiter", "cors"),
    ),
)
GATEWAY_KEYS = frozenset(row.key for row in GATEWAY_ROWS)


def process_tree(pid: int) -> Callable[[], list[int]]:
    """A callable listing `pid` and its children (nginx master and workers)."""

    def pids() -> list[int]:
        try:
            return [pid, *(child.pid for child in psutil.Process(pid).children())]
        except psutil.Error:
            return []

    return pids


def plugin_entry(name: str, priority: int, catalogue_entry: dict[str, Any]) -> dict[str, Any]:
    stages = catalogue_entry.get("fixed_stages") or catalogue_entry.get("allowed_stages") or []
    stage = PREFERRED_STAGE if PREFERRED_STAGE in stages or not stages else stages[0]
    return {
        "name": name,
        "enabled": True,
        "stage": stage,
        "priority": priority,
        "settings": PLUGIN_SETTINGS[name],
    }


def plugin_chain(
    names: tuple[str, ...], catalogue: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The required_plugins of a row and the names missing from the catalogue."""
    present = [name for name in names if name in catalogue]
    chain = [plugin_entry(name, i + 1, catalogue[name]) for i, name in enumerate(present)]
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
    chain, missing = plugin_chain(row.plugins, catalogue)
    if missing:
        target.notes.append("missing plugins (skipped): " + ", ".join(missing))
    try:
        target.api_key = admin.create_route(
            subdomain=subdomain, plugins=chain, port=upstream_port, public=row.public
        )
        target.sse_api_key = admin.create_route(
            subdomain=f"{subdomain}-sse", plugins=chain, port=sse_port, public=row.public
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
        sse_host=host,
        pids=process_tree(servers.proxy.pid),
    )
    return [direct, nginx]


def broken_gateway_targets(reason: str) -> list[Target]:
    return [Target(row.key, row.label, 0, "", 0, "", list, broken=reason) for row in GATEWAY_ROWS]


def gateway_targets(servers: Servers) -> list[Target]:
    """The gateway rows, configured through the admin API (marked broken if that fails)."""
    gateway = servers.gateway
    if gateway is None:
        return broken_gateway_targets(servers.gateway_error)
    admin = AdminClient(gateway.base_url, gateway.token)
    try:
        catalogue = admin.plugin_catalogue()
    except (AdminApiError, requests.RequestException) as exc:
        return broken_gateway_targets(f"plugin catalogue: {exc}")
    ports = (servers.upstream.port, servers.sse_port)
    return [gateway_target(row, gateway, admin, catalogue, ports) for row in GATEWAY_ROWS]


def shared_key(targets: list[Target]) -> str:
    """A key of the same shape as the gateway's, sent by the rows that need none."""
    return next((t.api_key for t in targets if t.api_key), PLACEHOLDER_KEY)
