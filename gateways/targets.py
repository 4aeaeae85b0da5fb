"""Serializers of upstream targets, their credentials and passive health-check settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rest_framework import serializers

from gateway_project.fields import (
    BaseURLField,
    DurationField,
    HeaderNameField,
    HeadersField,
    HeaderValueField,
    HostField,
)
from gateway_project.headers import API_KEY_HEADERS, CLIENT_ADDRESS_HEADERS, HOP_BY_HOP
from gateway_project.secret_masking import MASK
from gateway_project.serializers import JSONBooleanField, StrictSerializer
from gateway_project.upstream_deny import refuse_denied_address
from gateways.egress import TargetAuthSerializer, restore_masked
from gateways.models import PORT_VALIDATORS
from gateways.providers import (
    PROVIDER_ALIASES,
    PROVIDER_NAMES,
    PROVIDER_TARGET_FIELDS,
    PROVIDERS,
    TARGET_MODES,
    Provider,
    takers_of,
)

SECRET_FIELDS = (
    "header_value",
    "param_value",
    "api_key",
    "aws_secret_access_key",
    "aws_session_token",
)
AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
AZURE_DEPLOYMENT = r"^[A-Za-z0-9._-]{1,64}$"
MCP_TOOL_PREFIX = r"^[A-Za-z0-9-]{1,32}$"
MCP_TOOL_PATTERN = r"^[A-Za-z0-9_.*/-]{1,128}$"  # a tool name as clients see it, or a * glob
# Client headers a provider target may not opt into: the connection's own, the gateway's key
# and the provider credential headers, the client's address.
NOT_FORWARDABLE = frozenset(
    name.lower()
    for name in (
        *HOP_BY_HOP,
        "Host",
        "Content-Length",
        "Authorization",
        *API_KEY_HEADERS,
        *(provider.auth_header for provider in PROVIDERS.values()),
        *CLIENT_ADDRESS_HEADERS,
    )
)


class CredentialsSerializer(StrictSerializer):
    """How the gateway authenticates to the target: a header, a query/body parameter or an API key.

    Secret values are write-only: responses show a mask, never the value. Unknown keys are
    refused rather than dropped (a misspelt secret would otherwise vanish silently).
    """

    header_name = HeaderNameField(required=False)
    header_value = HeaderValueField(required=False, max_length=4000)
    param_name = serializers.CharField(required=False, max_length=200)
    param_value = serializers.CharField(required=False, max_length=4000)
    param_location = serializers.ChoiceField(choices=["query", "body"], required=False)
    api_key = HeaderValueField(required=False, max_length=4000)  # sent in a header
    # Bedrock: requests signed with SigV4 by these keys, for this region.
    aws_access_key_id = serializers.RegexField(r"^[A-Z0-9]{16,128}$", required=False)
    aws_secret_access_key = HeaderValueField(required=False, max_length=256)
    aws_session_token = HeaderValueField(required=False, max_length=4000)
    aws_region = serializers.RegexField(AWS_REGION, required=False)
    unknown_key_message = "Unknown credential."
    not_supported_yet = frozenset(
        {
            *(f"azure_{name}" for name in ("use_managed_identity", "endpoint", "version")),
            *(f"azure_{name}" for name in ("client_id", "client_secret", "tenant_id")),
            "gcp_use_service_account",
            "gcp_service_account_json",
            *(f"aws_{name}" for name in ("role", "use_role")),
            "allow_override",
        }
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("header_name")) != bool(attrs.get("header_value")):
            raise serializers.ValidationError(
                {"header_value": ["header_name and header_value go together."]}
            )
        if bool(attrs.get("param_name")) != bool(attrs.get("param_value")):
            raise serializers.ValidationError(
                {"param_value": ["param_name and param_value go together."]}
            )
        if attrs.get("param_name") and not attrs.get("param_location"):
            attrs["param_location"] = "query"
        if bool(attrs.get("aws_access_key_id")) != bool(attrs.get("aws_secret_access_key")):
            raise serializers.ValidationError(
                {
                    "aws_secret_access_key": [
                        "aws_access_key_id and aws_secret_access_key go together."
                    ]
                }
            )
        if attrs.get("aws_session_token") and not attrs.get("aws_access_key_id"):
            raise serializers.ValidationError(
                {"aws_session_token": ["A session token goes with aws_access_key_id."]}
            )
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = dict(instance or {})
        return {
            key: (MASK if key in SECRET_FIELDS and value else value) for key, value in data.items()
        }


def restore_masked_secrets(
    credentials: dict[str, Any], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Secrets sent back as the mask (a GET edited and PUT back) keep their stored value.

    A mask with no stored secret behind it is refused: storing it would send the mask upstream.
    """
    restored, errors = dict(credentials), {}
    for key in SECRET_FIELDS:
        if restored.get(key) != MASK:
            continue
        if stored and stored.get(key):
            restored[key] = stored[key]
        else:
            errors[key] = [f"{MASK!r} is the mask of a stored secret; send the secret itself."]
    if errors:
        raise serializers.ValidationError(errors)
    return restored


def restore_masked_target_secrets(
    targets: list[dict[str, Any]], stored: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`restore_masked_secrets` for each target, against the stored target it stands for.

    That is the stored target at the same position if it is the same host or provider,
    else the only stored target that is.
    """
    errors: dict[int, Any] = {}
    for index, target in enumerate(targets):
        oauth = (target.get("auth") or {}).get("oauth")
        if not target.get("credentials") and not oauth:
            continue
        same = [t for t in stored if _target_identity(t) == _target_identity(target)]
        if index < len(stored) and stored[index] in same:
            previous = stored[index]
        else:
            previous = same[0] if len(same) == 1 else {}
        try:
            if target.get("credentials"):
                target["credentials"] = restore_masked_secrets(
                    target["credentials"], previous.get("credentials")
                )
        except serializers.ValidationError as exc:
            errors[index] = {"credentials": exc.detail}
        try:
            if oauth:
                stored_oauth = (previous.get("auth") or {}).get("oauth")
                restore_masked(oauth, stored_oauth, ("client_secret",))
        except serializers.ValidationError as exc:
            errors[index] = {"auth": {"oauth": exc.detail}}
    if errors:
        raise serializers.ValidationError(errors)
    return targets


def _target_identity(target: Mapping[str, Any]) -> tuple[Any, ...]:
    keys = ("provider", "base_url", "host", "port")
    return tuple(target.get(key) or None for key in keys)


class ForwardedHeaderField(HeaderNameField):
    """A client header a provider target receives besides the provider's own."""

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data)
        if name.lower() in NOT_FORWARDABLE:
            raise serializers.ValidationError(f"{name!r} is never forwarded to a provider.")
        return name


class PriceField(serializers.DecimalField):
    """A non-negative price per million tokens: validated as a decimal, stored as a number."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_digits=16, decimal_places=6, min_value=0, coerce_to_string=False, **kwargs
        )

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return float(super().to_internal_value(data))

    def to_representation(self, value: Any) -> float:
        return float(value)


class ProviderOptionsSerializer(StrictSerializer):
    """TrustGate E2's `provider_options` of an openai target."""

    api = serializers.ChoiceField(
        choices=("completions", "responses"),
        help_text="The provider API a chat request uses: completions (the default) or "
        "responses (translated to the Responses API and back).",
    )


class PricingSerializer(StrictSerializer):
    """What a provider target's tokens cost, for the request's cost (USD or any currency)."""

    input_per_million = PriceField(help_text="Price of one million prompt tokens.")
    output_per_million = PriceField(help_text="Price of one million completion tokens.")
    cached_input_per_million = PriceField(
        required=False,
        help_text="Price of one million prompt tokens read from the provider's prompt cache "
        "(default: the input price).",
    )
    cache_write_per_million = PriceField(
        required=False,
        help_text="Price of one million prompt tokens written to the provider's prompt cache "
        "(default: the input price).",
    )
    unknown_key_message = "Unknown price."


class TargetSerializer(StrictSerializer):
    """A host target (host, port, protocol, path, weight, priority) or an LLM provider target.

    The balancer picks among the healthy targets of the lowest `priority`, by `weight`; the
    next priority is the fallback."""

    host = HostField(required=False, validators=[refuse_denied_address])
    port = serializers.IntegerField(required=False, validators=PORT_VALIDATORS)
    protocol = serializers.ChoiceField(choices=["http", "https"], default="http")
    path = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    weight = serializers.IntegerField(required=False, default=1, min_value=0, max_value=1000)
    priority = serializers.IntegerField(required=False, default=0, min_value=0, max_value=1000)
    headers = HeadersField(required=False, default=dict)
    credentials = CredentialsSerializer(required=False)
    provider = serializers.ChoiceField(
        choices=PROVIDER_NAMES + tuple(PROVIDER_ALIASES), required=False
    )
    base_url = BaseURLField(query=False, required=False, validators=[refuse_denied_address])
    models = serializers.ListField(child=serializers.CharField(), required=False)
    default_model = serializers.CharField(required=False)
    pricing = PricingSerializer(required=False)
    forward_headers = serializers.ListField(
        child=ForwardedHeaderField(),
        required=False,
        max_length=50,
        help_text="Provider targets: client headers forwarded besides Content-Type, Accept, "
        "X-Request-ID, traceparent, tracestate and the provider's own (others never go).",
    )
    mode = serializers.ChoiceField(
        choices=TARGET_MODES,
        required=False,
        help_text="translate (default): clients speak OpenAI's API, translated for the provider; "
        "passthrough: clients speak the provider's own API.",
    )
    deployments = serializers.DictField(
        child=serializers.RegexField(AZURE_DEPLOYMENT),
        required=False,
        help_text="azure: the deployment of each model (default: the model's name).",
    )
    api_version = serializers.RegexField(
        r"^\d{4}-\d{2}-\d{2}(-preview)?$", required=False, help_text="azure: the api-version."
    )
    provider_options = ProviderOptionsSerializer(required=False)
    auth = TargetAuthSerializer(
        required=False, help_text="OAuth2 client credentials: a Bearer token fetched and cached."
    )
    kind = serializers.ChoiceField(
        choices=["http", "mcp"],
        required=False,
        help_text="mcp: an MCP server (streamable HTTP at host, port and path); the rule serves "
        "one MCP endpoint fronting its upstream's MCP targets.",
    )
    tool_prefix = serializers.RegexField(
        MCP_TOOL_PREFIX,
        required=False,
        help_text="mcp: prefixed to the server's tool names (`<prefix>_<tool>`) in tools/list.",
    )
    not_supported_yet = frozenset({"stream", "insecure_ssl", "tags", "description"})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("tool_prefix") and attrs.get("kind") != "mcp":
            raise serializers.ValidationError({"tool_prefix": ["Only mcp targets take it."]})
        if attrs.get("kind") == "mcp" and attrs.get("provider"):
            raise serializers.ValidationError(
                {"kind": ["An mcp target takes a host, no provider."]}
            )
        if attrs.get("provider"):
            attrs["provider"] = PROVIDER_ALIASES.get(attrs["provider"], attrs["provider"])
            return self._validate_provider(attrs)
        for name in ("pricing", "mode", *PROVIDER_TARGET_FIELDS, "forward_headers"):
            if attrs.get(name):
                raise serializers.ValidationError({name: ["Only provider targets take it."]})
        if not attrs.get("host"):
            raise serializers.ValidationError(
                {"host": ["A target needs either a host or a provider."]}
            )
        if not attrs.get("port"):
            attrs["port"] = 443 if attrs["protocol"] == "https" else 80
        return attrs

    @staticmethod
    def _validate_provider(attrs: dict[str, Any]) -> dict[str, Any]:
        """What the provider's table entry asks of its targets, then their models."""
        if attrs.get("host") or attrs.get("port"):
            raise serializers.ValidationError(
                {"host": ["A provider target takes no host or port."]}
            )
        provider = PROVIDERS[attrs["provider"]]
        credentials = attrs.get("credentials") or {}
        if not credentials:
            raise serializers.ValidationError(
                {"credentials": ["A provider target needs credentials."]}
            )
        TargetSerializer._validate_credentials(provider, credentials)
        if not attrs.get("base_url"):
            if region_url := provider.region_base_url(credentials.get("aws_region")):
                attrs["base_url"] = region_url
            elif provider.default_base_url is None:
                raise serializers.ValidationError(
                    {"base_url": [f"A {provider.name} target needs its base_url."]}
                )
        for name in PROVIDER_TARGET_FIELDS:
            if name in attrs and name not in provider.target_fields:
                takers = ", ".join(takers_of(name))
                raise serializers.ValidationError({name: [f"Only {takers} targets take it."]})
        models = attrs.get("models") or []
        if not models:
            raise serializers.ValidationError(
                {"models": ["A provider target needs at least one model."]}
            )
        if attrs.get("default_model") not in models:
            raise serializers.ValidationError({"default_model": ["Must be one of models."]})
        if unknown := sorted(set(attrs.get("deployments") or {}) - set(models)):
            raise serializers.ValidationError(
                {"deployments": [f"Not among the target's models: {', '.join(unknown)}."]}
            )
        return attrs

    @staticmethod
    def _validate_credentials(provider: Provider, credentials: dict[str, Any]) -> None:
        """One of the credentials the provider takes, and what each given one needs beside it
        (AWS keys sign with SigV4, which needs the region)."""
        if provider.credentials and not any(credentials.get(n) for n in provider.credentials):
            kinds = " or ".join(provider.credentials)
            raise serializers.ValidationError(
                {"credentials": [f"A {provider.name} target needs {kinds}."]}
            )
        for name, (needed, why) in provider.credentials_need.items():
            if credentials.get(name) and not credentials.get(needed):
                raise serializers.ValidationError({"credentials": {needed: [why]}})


def allowed_tools_field(holder: str) -> serializers.ListField:
    """`allowed_tools` of a gateway, rule or key: MCP tools by name and `*` glob."""
    return serializers.ListField(
        child=serializers.RegexField(MCP_TOOL_PATTERN),
        required=False,
        allow_null=True,
        max_length=500,
        help_text=f"MCP tools the {holder} allows to list and call: exact names and `*` globs "
        "(the names clients see, prefixed); once set, any other tool is refused (a call needs "
        "the gateway's, the rule's and the key's lists, those set). null: every tool.",
    )


def check_mcp_targets(targets: list[dict[str, Any]]) -> None:
    """An upstream's targets are all MCP servers or none, their tool prefixes distinct; several
    servers need a prefix each (a tool name then says which server owns it)."""
    mcp = [target for target in targets if target.get("kind") == "mcp"]
    if not mcp:
        return
    if len(mcp) != len(targets):
        raise serializers.ValidationError({"kind": ["The targets are all kind mcp or none."]})
    prefixes = [target.get("tool_prefix") for target in mcp]
    if len(mcp) > 1 and (None in prefixes or len(set(prefixes)) != len(prefixes)):
        raise serializers.ValidationError(
            {"tool_prefix": ["Each of several mcp targets needs its own tool_prefix."]}
        )


class HealthChecksSerializer(StrictSerializer):
    """Passive health, shared by every worker and node through Redis: `threshold` failures
    within `interval` seconds take a target out for `interval` seconds (it is tried only after
    the healthy ones). Failures: connection errors and timeouts; a provider's 429 and 5xx.

    Active health, when `path` is set: one prober per node GETs `path` (with `headers`) on
    every target each `interval` seconds; `threshold` failed probes in a row take a target out
    until a probe passes (2xx or 3xx)."""

    passive = JSONBooleanField(default=True)
    threshold = serializers.IntegerField(default=3, min_value=1, max_value=1000)
    interval = serializers.IntegerField(default=10, min_value=1, max_value=3600)
    path = serializers.RegexField(
        r"^/[^\s#]*$",
        required=False,
        max_length=2000,
        help_text="Active checks: the path probed on every target (e.g. /health).",
    )
    headers = HeadersField(
        required=False, help_text="Active checks: headers sent with every probe."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("headers") and not attrs.get("path"):
            raise serializers.ValidationError({"headers": ["Probe headers need a path."]})
        return attrs


class WebSocketConfigSerializer(StrictSerializer):
    """How WebSocket connections through this upstream's rules are kept (TrustGate's
    `websocket_config`, durations in Go's form): the gateway pings an idle client every
    `ping_period` and closes a connection whose pong is `pong_wait` late; the upstream's
    handshake must complete within `handshake_timeout`; socket reads of `read_buffer_size`
    bytes (0: the default); a message over `max_message_size` bytes closes the connection
    (1009), as does `idle_timeout` without a frame either way (1001)."""

    enable_direct_communication = JSONBooleanField(default=False)
    return_error_details = JSONBooleanField(default=False)
    ping_period = DurationField(default="30s", max_length=32)
    pong_wait = DurationField(default="60s", max_length=32)
    handshake_timeout = DurationField(default="15s", max_length=32)
    read_buffer_size = serializers.IntegerField(default=0, min_value=0, max_value=16 * 2**20)
    write_buffer_size = serializers.IntegerField(default=0, min_value=0, max_value=16 * 2**20)
    max_message_size = serializers.IntegerField(
        default=16 * 2**20, min_value=1, max_value=256 * 2**20
    )
    idle_timeout = DurationField(default="10m", max_length=32)
