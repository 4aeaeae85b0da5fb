"""The LLM provider catalogue: one table of what the gateway knows about each provider."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# The client headers every provider receives: content negotiation, the request id and the W3C
# trace context. Anything else the client sent (cookies, its own credentials, its address,
# its SDK's telemetry) stays here unless the provider's own or the target's forward_headers.
PROVIDER_CLIENT_HEADERS = ("Content-Type", "Accept", "X-Request-ID", "traceparent", "tracestate")
OPENAI_CLIENT_HEADERS = ("OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta")
# OpenAI's usage names (chat completions, and the Responses API's) -> the normalised names.
OPENAI_USAGE = {
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "prompt_tokens_details.cached_tokens": "cached_tokens",
    "prompt_tokens_details.cache_write_tokens": "cache_write_tokens",
    "completion_tokens_details.reasoning_tokens": "reasoning_tokens",
}


@dataclass(frozen=True)
class Provider:
    """How to reach and authenticate to one provider's API, what its targets carry, how its
    answers report usage and why they finished, and which adapter translates for it."""

    name: str
    default_base_url: str | None  # None: a target gives `base_url` (or a region that gives it)
    auth_header: str
    auth_template: str = "{}"
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    # The provider's own request options sent as headers, forwarded from the client.
    client_headers: tuple[str, ...] = ()
    # The adapter class, by dotted path (the proxy imports it; this layer never does).
    adapter: str = ""
    # The provider-only target settings its targets may carry (no other provider's do).
    target_fields: tuple[str, ...] = ()
    # The credentials a target must give one of (any credentials when empty).
    credentials: tuple[str, ...] = ()
    # Credentials that need another one beside them: {credential: (needed, why)}.
    credentials_need: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # The base URL of a target giving `aws_region` and no base_url ("{region}" filled in).
    regional_base_url: str | None = None
    # Where its answers report token usage and the field names there (`a.b`: field b of a) ->
    # the normalised names; the prompt tokens count cached ones (cached_tokens, read from the
    # prompt cache, and cache_write_tokens, written to it).
    usage_key: str = "usage"
    usage_fields: Mapping[str, str] = field(default_factory=lambda: OPENAI_USAGE)
    # The prompt-cache counts of providers that report them apart from the prompt tokens
    # (their translated answers add them to the prompt tokens) -> the normalised names.
    cache_fields: Mapping[str, str] = field(default_factory=dict)
    # Its finish reasons -> OpenAI's (the adapter decides what an unlisted one becomes).
    finish_reasons: Mapping[str, str] = field(default_factory=dict)
    # Its `gen_ai.provider.name` in OpenTelemetry's GenAI conventions, when not its name.
    genai_name: str = ""

    def auth_value(self, api_key: str) -> str:
        return self.auth_template.format(api_key)

    def forwarded(self, opted_in: Iterable[str] = ()) -> frozenset[str]:
        """The lower-case names of the client headers a target of this provider receives."""
        names = (*PROVIDER_CLIENT_HEADERS, *self.client_headers, *opted_in)
        return frozenset(name.lower() for name in names)

    def region_base_url(self, region: str | None) -> str | None:
        """The base URL of a target in `region`, where the provider's endpoint is regional."""
        if not region or not self.regional_base_url:
            return None
        return self.regional_base_url.format(region=region)


PROVIDERS: Mapping[str, Provider] = {
    provider.name: provider
    for provider in (
        Provider(
            "openai",
            "https://api.openai.com",
            "Authorization",
            "Bearer {}",
            client_headers=OPENAI_CLIENT_HEADERS,
            adapter="proxy.llm.openai.OpenAIAdapter",
            target_fields=("provider_options",),
        ),
        Provider(
            "anthropic",
            "https://api.anthropic.com",
            "x-api-key",
            extra_headers={"anthropic-version": "2023-06-01"},
            client_headers=("anthropic-version", "anthropic-beta"),
            adapter="proxy.llm.anthropic.AnthropicAdapter",
            usage_fields={"input_tokens": "prompt_tokens", "output_tokens": "completion_tokens"},
            cache_fields={
                "cache_read_input_tokens": "cached_tokens",
                "cache_creation_input_tokens": "cache_write_tokens",
            },
            finish_reasons={
                "end_turn": "stop",
                "stop_sequence": "stop",
                "pause_turn": "stop",
                "max_tokens": "length",
                "tool_use": "tool_calls",
                "refusal": "content_filter",
            },
        ),
        Provider(
            "mistral",
            "https://api.mistral.ai",
            "Authorization",
            "Bearer {}",
            genai_name="mistral_ai",
            adapter="proxy.llm.openai.MistralAdapter",
        ),
        # Azure OpenAI lives on the operator's own resource endpoint.
        Provider(
            "azure",
            None,
            "api-key",
            genai_name="azure.ai.openai",
            client_headers=OPENAI_CLIENT_HEADERS,
            adapter="proxy.llm.openai.AzureAdapter",
            target_fields=("deployments", "api_version"),
        ),
        # The Gemini API (an operator may point `base_url` at a compatible proxy). Its request
        # options are all in the body; its x-goog-* headers are a credential (x-goog-api-key),
        # the SDK's telemetry (x-goog-api-client) and billing (x-goog-user-project): none go.
        Provider(
            "google",
            "https://generativelanguage.googleapis.com",
            "x-goog-api-key",
            genai_name="gcp.gemini",
            adapter="proxy.llm.gemini.GeminiAdapter",
            usage_key="usageMetadata",
            usage_fields={
                "promptTokenCount": "prompt_tokens",
                "candidatesTokenCount": "completion_tokens",
                "totalTokenCount": "total_tokens",
                "cachedContentTokenCount": "cached_tokens",
                "thoughtsTokenCount": "reasoning_tokens",
            },
            finish_reasons={
                "STOP": "stop",
                "MAX_TOKENS": "length",
                "MALFORMED_FUNCTION_CALL": "stop",
            },
        ),
        # Bedrock's runtime endpoint is per region: the target's base_url, else its aws_region's.
        # A Bedrock API key goes as a bearer token; AWS access keys sign with SigV4 instead.
        Provider(
            "bedrock",
            None,
            "Authorization",
            "Bearer {}",
            genai_name="aws.bedrock",
            client_headers=tuple(
                f"X-Amzn-Bedrock-{name}"
                for name in (
                    "Trace",
                    "GuardrailIdentifier",
                    "GuardrailVersion",
                    "PerformanceConfig-Latency",
                )
            ),
            adapter="proxy.llm.bedrock.BedrockAdapter",
            credentials=("api_key", "aws_access_key_id"),
            credentials_need={
                "aws_access_key_id": ("aws_region", "SigV4 signing needs the region.")
            },
            regional_base_url="https://bedrock-runtime.{region}.amazonaws.com",
            usage_fields={
                "inputTokens": "prompt_tokens",
                "outputTokens": "completion_tokens",
                "totalTokens": "total_tokens",
            },
            cache_fields={
                "cacheReadInputTokens": "cached_tokens",
                "cacheWriteInputTokens": "cache_write_tokens",
            },
            finish_reasons={
                "end_turn": "stop",
                "stop_sequence": "stop",
                "max_tokens": "length",
                "tool_use": "tool_calls",
                "guardrail_intervened": "content_filter",
                "content_filtered": "content_filter",
            },
        ),
    )
}
PROVIDER_NAMES = tuple(PROVIDERS)
# Other names a target may give its provider; stored under the catalogue's name.
PROVIDER_ALIASES: Mapping[str, str] = {"gemini": "google"}
# How a target's clients talk: OpenAI's API translated for the provider, or the provider's own.
TARGET_MODES = ("translate", "passthrough")
# Every provider-only target setting, in the order the table names them.
PROVIDER_TARGET_FIELDS = tuple(
    dict.fromkeys(name for provider in PROVIDERS.values() for name in provider.target_fields)
)


def takers_of(target_field: str) -> tuple[str, ...]:
    """The providers whose targets take `target_field`."""
    return tuple(name for name, p in PROVIDERS.items() if target_field in p.target_fields)


def provider_base_url(name: str, base_url: str | None) -> str:
    """The URL requests to this provider go to: the target's own, else the catalogue default."""
    chosen = base_url or PROVIDERS[name].default_base_url
    if not chosen:
        raise ValueError(f"provider {name!r} needs a base_url")
    return chosen.rstrip("/")
