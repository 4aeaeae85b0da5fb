"""Admin API serializers of gateways, upstreams, services and rules (validation at the edge)."""

from __future__ import annotations

import functools
from typing import Any

from rest_framework import serializers

from gateway_project.fields import HeadersField, HostField
from gateway_project.serializers import StrictModelSerializer
from gateway_project.upstream_deny import refuse_denied_address
from gateways.egress import ClientTLSSerializer, ProxyConfigSerializer, restore_masked_egress
from gateways.governance import BudgetDurationField, ModelPatternsField, budget_field
from gateways.models import DNS_LABEL, Gateway, Rule, Service, Upstream
from gateways.paths import HTTP_METHODS, compile_path_pattern
from gateways.security import SecurityConfigSerializer
from gateways.selectors import rule_route_clash
from gateways.sessions import SessionConfigSerializer
from gateways.targets import (
    CredentialsSerializer,
    HealthChecksSerializer,
    TargetSerializer,
    WebSocketConfigSerializer,
    allowed_tools_field,
    check_mcp_targets,
    restore_masked_secrets,
    restore_masked_target_secrets,
)
from gateways.telemetry import TelemetrySerializer, restore_telemetry_secrets
from plugins.ordering import refuse_unsafe_gateway_chain, refuse_unsafe_rule_chain
from plugins.validation import PluginChainField, WholeItemsListField, restore_chain_secrets

# What an 'endpoint' service sets itself; a service of type 'upstream' takes it from the
# upstream's targets, so a value given here would be silently ignored: it is refused.
ENDPOINT_ONLY = ("host", "port", "path", "headers", "credentials")
UPSTREAM_TYPE_REFUSAL = "Not allowed for type 'upstream': set it on the upstream's targets."


class GatewaySerializer(StrictModelSerializer):
    subdomain = serializers.CharField(max_length=63, validators=[DNS_LABEL])
    required_plugins = PluginChainField()
    security_config = SecurityConfigSerializer(required=False)
    telemetry = TelemetrySerializer(required=False)
    allowed_models = ModelPatternsField()
    allowed_tools = allowed_tools_field("gateway")
    max_budget_usd = budget_field()
    budget_duration = BudgetDurationField()
    session_config = SessionConfigSerializer(required=False)
    not_supported_yet = frozenset({"client_tls"})

    class Meta:
        model = Gateway
        fields = [
            "id",
            "name",
            "subdomain",
            "status",
            "required_plugins",
            "security_config",
            "telemetry",
            "allowed_models",
            "allowed_tools",
            "max_budget_usd",
            "budget_duration",
            "session_config",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and isinstance(data.get("subdomain"), str):
            data = {**data, "subdomain": data["subdomain"].strip().lower()}
        return super().to_internal_value(data)

    def validate_required_plugins(self, chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored = self.instance.required_plugins.all() if self.instance is not None else []
        refuse_unsafe_gateway_chain(chain, self.instance.pk if self.instance else None)
        return restore_chain_secrets(chain, stored)

    def validate_telemetry(self, telemetry: dict[str, Any]) -> dict[str, Any]:
        stored = self.instance.telemetry if self.instance is not None else None
        return restore_telemetry_secrets(telemetry, stored)


class GatewayChildSerializer(StrictModelSerializer):
    """Base of serializers of objects nested under a gateway (passed in the context)."""

    gateway_id = serializers.UUIDField(read_only=True)

    @property
    def gateway(self) -> Gateway:
        return self.context["gateway"]


@functools.cache
def websocket_defaults() -> dict[str, Any]:
    """The `websocket_config` of an upstream that sets none of its fields."""
    return dict(WebSocketConfigSerializer().to_internal_value({}))


class UpstreamSerializer(GatewayChildSerializer):
    targets = WholeItemsListField(child=TargetSerializer(), min_length=1, max_length=256)
    health_checks = HealthChecksSerializer(required=False)
    websocket_config = WebSocketConfigSerializer(required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    proxy_config = ProxyConfigSerializer(required=False, allow_null=True)
    client_tls = ClientTLSSerializer(required=False, allow_null=True)
    not_supported_yet = frozenset({"proxy", "embedding", "embedding_config"})

    class Meta:
        model = Upstream
        fields = [
            "id",
            "gateway_id",
            "name",
            "algorithm",
            "targets",
            "health_checks",
            "websocket_config",
            "tags",
            "proxy_config",
            "client_tls",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        stored = self.instance and {
            "proxy_config": self.instance.proxy_config,
            "client_tls": self.instance.client_tls,
        }
        self.refuse_websocket_through_proxy(attrs)
        return restore_masked_egress(attrs, stored)

    def refuse_websocket_through_proxy(self, attrs: dict[str, Any]) -> None:
        """TrustGate's rule, and ours: WebSockets are not relayed through an egress proxy (a
        `websocket_config` other than the defaults beside a `proxy_config` is refused)."""

        def value(name: str) -> Any:
            return attrs[name] if name in attrs else getattr(self.instance, name, None)

        websocket = value("websocket_config")
        if websocket and websocket != websocket_defaults() and value("proxy_config"):
            raise serializers.ValidationError(
                {"websocket_config": ["Cannot be set together with proxy_config."]}
            )

    def validate_targets(self, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored = self.instance.targets if self.instance is not None else []
        check_mcp_targets(targets)
        return restore_masked_target_secrets(targets, stored)


class ServiceSerializer(GatewayChildSerializer):
    upstream_id = serializers.UUIDField(required=False, allow_null=True)
    host = HostField(required=False, allow_blank=True)
    credentials = CredentialsSerializer(required=False)
    headers = HeadersField(required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    connect_timeout = serializers.FloatField(
        required=False, allow_null=True, min_value=0.01, max_value=600
    )
    read_timeout = serializers.FloatField(
        required=False, allow_null=True, min_value=0.01, max_value=3600
    )
    retries = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=10,
        help_text="Other attempts a request may make (the rule's retry_attempts, when larger, "
        "wins); within the upstream's retry budget.",
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "gateway_id",
            "name",
            "type",
            "description",
            "tags",
            "upstream_id",
            "host",
            "port",
            "protocol",
            "path",
            "headers",
            "credentials",
            "connect_timeout",
            "read_timeout",
            "retries",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []  # uniqueness of the name is checked below, per gateway

    def validate_name(self, name: str) -> str:
        others = Service.objects.filter(gateway=self.gateway, name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("A service with this name exists in this gateway.")
        return name

    def validate_host(self, host: str) -> str:
        return refuse_denied_address(host)

    def validate_credentials(self, credentials: dict[str, Any]) -> dict[str, Any]:
        stored = self.instance.credentials if self.instance is not None else None
        return restore_masked_secrets(credentials, stored)

    def validate_upstream_id(self, upstream_id: Any) -> Any:
        if (
            upstream_id
            and not Upstream.objects.filter(pk=upstream_id, gateway=self.gateway).exists()
        ):
            raise serializers.ValidationError("No such upstream in this gateway.")
        return upstream_id

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {**self._current_values(), **attrs}
        if merged.get("type") == Service.Type.UPSTREAM:
            if not merged.get("upstream_id"):
                raise serializers.ValidationError(
                    {"upstream_id": ["Required for type 'upstream'."]}
                )
            refused = [name for name in ENDPOINT_ONLY if attrs.get(name)]
            if refused:
                raise serializers.ValidationError(
                    {name: [UPSTREAM_TYPE_REFUSAL] for name in refused}
                )
            # A service switched from 'endpoint' drops what it no longer uses.
            attrs.update(host="", port=None, path="", headers={}, credentials={})
        elif merged.get("type") == Service.Type.ENDPOINT:
            if not merged.get("host"):
                raise serializers.ValidationError({"host": ["Required for type 'endpoint'."]})
            if not merged.get("port"):
                raise serializers.ValidationError({"port": ["Required for type 'endpoint'."]})
            attrs["upstream_id"] = None
        return attrs

    def _current_values(self) -> dict[str, Any]:
        if self.instance is None:
            return {}
        fields = ("type", "upstream_id", "host", "port")
        return {name: getattr(self.instance, name) for name in fields}


class RuleSerializer(GatewayChildSerializer):
    service_id = serializers.UUIDField()
    methods = serializers.ListField(child=serializers.CharField(), min_length=1)
    headers = HeadersField(required=False)
    plugin_chain = PluginChainField()
    retry_attempts = serializers.IntegerField(required=False, min_value=0, max_value=10)
    allowed_models = ModelPatternsField()
    allowed_tools = allowed_tools_field("rule")
    session_config = SessionConfigSerializer(required=False)
    not_supported_yet = frozenset({"type", "trustlens"})

    class Meta:
        model = Rule
        fields = [
            "id",
            "gateway_id",
            "name",
            "path",
            "service_id",
            "methods",
            "headers",
            "strip_path",
            "preserve_host",
            "retry_attempts",
            "session_config",
            "plugin_chain",
            "active",
            "public",
            "allowed_models",
            "allowed_tools",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_path(self, path: str) -> str:
        try:
            compile_path_pattern(path)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return path

    def validate_plugin_chain(self, chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored = self.instance.plugin_chain.all() if self.instance is not None else []
        refuse_unsafe_rule_chain(chain, self.gateway.pk)
        return restore_chain_secrets(chain, stored)

    def validate_methods(self, methods: list[str]) -> list[str]:
        upper = [method.strip().upper() for method in methods]
        invalid = sorted(set(upper) - set(HTTP_METHODS))
        if invalid:
            raise serializers.ValidationError(f"Invalid methods: {', '.join(invalid)}.")
        return list(dict.fromkeys(upper))

    def validate_service_id(self, service_id: Any) -> Any:
        if not Service.objects.filter(pk=service_id, gateway=self.gateway).exists():
            raise serializers.ValidationError("No such service in this gateway.")
        return service_id

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = {}
        if self.instance is not None:
            current = {
                "path": self.instance.path,
                "methods": self.instance.methods,
                "service_id": self.instance.service_id,
                "active": self.instance.active,
            }
        merged = {**current, **attrs}
        if merged.get("active", True):
            self._refuse_duplicate(merged)
        return attrs

    def _refuse_duplicate(self, rule: dict[str, Any]) -> None:
        clash = rule_route_clash(
            gateway=self.gateway,
            path=rule["path"],
            methods=rule["methods"],
            service_id=rule["service_id"],
            exclude=self.instance,
        )
        if clash:
            raise serializers.ValidationError({"path": [clash]})
