"""Compiled, immutable per-gateway runtime config, cached per process, rebuilt on change."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from gateways.governance import ALL_MODELS, ModelPatterns, compile_model_patterns
from gateways.models import ConfigVersion, Gateway, Rule, Service
from gateways.paths import PathPattern, compile_path_pattern
from gateways.providers import PROVIDERS, provider_base_url
from gateways.versions import DIRECTORY, versions_of
from keys.budgets import Budget
from keys.selectors import VerifiedKey, verified_keys_of_gateway
from observability.tracing.config import Telemetry, telemetry_of
from plugins.models import PluginConfig
from plugins.pipeline import CompiledChain, PluginSpec, compile_chain
from proxy.balancer import Balancer, Target
from proxy.health import health_scope
from proxy.llm.routes import LLMRoute, llm_route
from proxy.llm.usage import Pricing
from proxy.mcp.routes import McpRoute, mcp_route
from proxy.oauth2 import oauth_client_of
from proxy.security import SecurityPolicy, security_policy
from proxy.sessions import StickySessions
from proxy.snapshot_cache import Entry, SnapshotCache
from proxy.transports import Transport, proxy_only, transport_of
from proxy.ws.settings import WebSocketSettings, websocket_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """A compiled rule: matcher, forwarding options, balancer and plugin chain."""

    id: str
    name: str
    pattern: PathPattern
    methods: frozenset[str]
    strip_path: bool
    preserve_host: bool
    retry_attempts: int
    public: bool
    headers: Mapping[str, str]
    balancer: Balancer
    connect_timeout: float | None
    read_timeout: float | None
    chain: CompiledChain
    llm: LLMRoute | None = None  # set when the rule's targets are LLM providers
    websocket: WebSocketSettings = WebSocketSettings()  # its upstream's websocket_config
    mcp: McpRoute | None = None  # set when the rule's targets are MCP servers
    models: ModelPatterns = ALL_MODELS  # the rule's model allow-list
    sessions: StickySessions | None = None  # the rule's (else the gateway's) session_config


@dataclass(frozen=True)
class GatewaySnapshot:
    id: str
    subdomain: str
    active: bool
    routes: tuple[Route, ...]  # most specific first
    keys: Mapping[str, VerifiedKey]
    security: SecurityPolicy | None = None  # the gateway's security_config
    telemetry: Telemetry | None = None  # the gateway's own; None: the environment's tracing
    tools_of_keys: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)  # by key
    models: ModelPatterns = ALL_MODELS  # the gateway's model allow-list
    budget: Budget | None = None  # the gateway's dollar budget


def _plugin_specs(configs: list[PluginConfig]) -> list[PluginSpec]:
    return [
        PluginSpec(
            id=str(c.id),
            level=c.level,
            name=c.name,
            enabled=c.enabled,
            stage=c.stage,
            priority=c.priority,
            parallel=c.parallel,
            settings=c.settings or {},
        )
        for c in configs
    ]


def target_of(
    key: str, data: Mapping[str, Any], index: int = 0, transport: Transport | None = None
) -> Target:
    """A stored target (or an endpoint service's address) as the balancer routes to it."""
    provider = data.get("provider") or ""
    if provider:
        base_url = provider_base_url(provider, data.get("base_url"))
    else:
        host = f"[{data['host']}]" if ":" in data["host"] else data["host"]  # IPv6
        base_url = f"{data.get('protocol', 'http')}://{host}:{data.get('port', 80)}"
    return Target(
        key=key,
        base_url=base_url,
        path=data.get("path") or "",
        weight=int(data.get("weight", 1)),
        headers=dict(data.get("headers") or {}),
        credentials=dict(data.get("credentials") or {}),
        provider=provider,
        models=tuple(data.get("models") or ()),
        default_model=data.get("default_model") or "",
        priority=int(data.get("priority") or 0),
        pricing=Pricing(**data["pricing"]) if data.get("pricing") else None,
        index=index,
        client_headers=(
            PROVIDERS[provider].forwarded(data.get("forward_headers") or ())
            if provider
            else frozenset()
        ),
        transport=transport,
        oauth=oauth_client_of(data.get("auth"), proxy_only(transport)),
    )


class BalancerRegistry:
    """Balancers outlive snapshots so health and round-robin state survive unrelated changes.

    One balancer per upstream (or endpoint service), replaced when that object changes.
    """

    def __init__(self) -> None:
        self._balancers: dict[str, tuple[str, Balancer]] = {}

    def for_service(self, service: Service) -> Balancer:
        if service.type == Service.Type.UPSTREAM:
            upstream = service.upstream
            transport = transport_of(upstream.proxy_config or {}, upstream.client_tls or {})
            return self._get(
                f"upstream:{upstream.id}",
                upstream.updated_at.isoformat(),
                lambda: Balancer(
                    [
                        target_of(f"{upstream.id}:{i}", t, i, transport)
                        for i, t in enumerate(upstream.targets)
                    ],
                    upstream.algorithm,
                    upstream.health_checks or {},
                    scope=health_scope(upstream.id, upstream.updated_at),
                ),
            )
        endpoint = {
            "protocol": service.protocol or "http",
            "host": service.host,
            "port": service.port,
            "path": service.path,
            "headers": service.headers,
            "credentials": service.credentials,
        }
        key = f"service:{service.id}"
        return self._get(
            key,
            service.updated_at.isoformat(),
            lambda: Balancer(  # its scope: its Retry-After is honoured as an upstream's
                [target_of(key, endpoint)],
                "round-robin",
                {},
                scope=health_scope(service.id, service.updated_at),
            ),
        )

    def _get(self, key: str, stamp: str, build: Callable[[], Balancer]) -> Balancer:
        entry = self._balancers.get(key)
        if entry is None or entry[0] != stamp:
            entry = (stamp, build())
            self._balancers[key] = entry
        return entry[1]


balancers = BalancerRegistry()


def _route(
    rule: Rule,
    gateway: Gateway,
    gateway_specs: list[PluginSpec],
    gateway_sessions: StickySessions | None = None,
) -> Route:
    service = rule.service
    balancer = balancers.for_service(service)
    upstream = service.upstream if service.type == Service.Type.UPSTREAM else None
    stored = upstream.targets if upstream is not None else ()
    return Route(
        id=str(rule.id),
        name=rule.name,
        pattern=compile_path_pattern(rule.path),
        methods=frozenset(rule.methods),
        strip_path=rule.strip_path,
        preserve_host=rule.preserve_host,
        retry_attempts=max(rule.retry_attempts, service.retries),
        public=rule.public,
        headers=dict(rule.headers or {}),
        balancer=balancer,
        connect_timeout=service.connect_timeout,
        read_timeout=service.read_timeout,
        chain=compile_chain([gateway_specs, _plugin_specs(list(rule.plugin_chain.all()))]),
        llm=llm_route(balancer.targets, stored) if stored else None,
        websocket=websocket_settings(upstream.websocket_config if upstream else None),
        mcp=mcp_route(balancer.targets, stored, (gateway.allowed_tools, rule.allowed_tools)),
        models=compile_model_patterns(rule.allowed_models or ()),
        sessions=StickySessions.of(rule.session_config) or gateway_sessions,
    )


def build_snapshot(subdomain: str) -> GatewaySnapshot | None:
    """Read one gateway and everything the proxy needs from the database (a handful of queries)."""
    gateway = (
        Gateway.objects.prefetch_related("required_plugins").filter(subdomain=subdomain).first()
    )
    if gateway is None:
        return None
    rules = (
        Rule.objects.filter(gateway=gateway, active=True)
        .select_related("service", "service__upstream")
        .prefetch_related("plugin_chain")
    )
    gateway_specs = _plugin_specs(list(gateway.required_plugins.all()))
    sessions = StickySessions.of(gateway.session_config)
    routes = sorted(
        (_route(rule, gateway, gateway_specs, sessions) for rule in rules),
        key=lambda r: r.pattern.specificity,
        reverse=True,
    )
    keys = verified_keys_of_gateway(gateway_id=gateway.id)
    return GatewaySnapshot(
        id=str(gateway.id),
        subdomain=gateway.subdomain,
        active=gateway.status == Gateway.Status.ACTIVE,
        routes=tuple(routes),
        keys=keys,
        tools_of_keys={key.id: key.allowed_tools for key in keys.values()},
        security=security_policy(gateway.security_config),
        telemetry=telemetry_of(gateway.telemetry),
        models=compile_model_patterns(gateway.allowed_models or ()),
        budget=Budget.of(f"gateway:{gateway.id}", gateway.max_budget_usd, gateway.budget_duration),
    )


def _directory_and_gateway(subdomain: str) -> tuple[int, str | None]:
    """The directory version and the id of the gateway at `subdomain`, in one cheap statement.

    (Unknown hosts cost exactly this one query; a flood of them must stay cheap.)
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT version FROM {ConfigVersion._meta.db_table} WHERE scope = %s), "
            f"(SELECT id FROM {Gateway._meta.db_table} WHERE subdomain = %s)",
            [DIRECTORY, subdomain],
        )
        version, gateway_id = cursor.fetchone()
    return version or 0, str(uuid.UUID(str(gateway_id))) if gateway_id else None


def load_entry(subdomain: str) -> Entry:
    """The snapshot of `subdomain` with the version it was built at (versions read first)."""
    directory, scope = _directory_and_gateway(subdomain)
    if scope is not None:
        version = versions_of([scope]).get(scope, 0)
        snapshot = build_snapshot(subdomain)
        if snapshot is not None and snapshot.id == scope:
            return Entry(scope, version, snapshot)
    return Entry(DIRECTORY, directory, None)


snapshots = SnapshotCache(load_entry)
