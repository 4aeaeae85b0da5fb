"""The LLM provider catalogue: one table of what the gateway knows about each provider."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# The client headers every provider receives: content negotiation, the request id and the W3C
# trace context. Anything else the client sent (cookies, its own credentials, its address,
# its SDK's telemetry) stays here unless the provider's own or the target's forward_headers.
PROVIDER_CLIENT_HEADERS = ("Content-Type", "Accept", "X-Request-ID", "traceparent", "tracestate")
OPENAI_CLIENT_HEADERS = ("OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta")


@dataclass(frozen=True)
class Provider:
    """How to reach and authenticate to one provider's API."""

    name: str
    default_base_url: str | None  # None: every target must give its own `base_url`
    auth_header: str
    auth_template: str = "{}"
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    # The provider's own request options sent as headers, forwarded from the client.
    client_headers: tuple[str, ...] = ()

    def auth_value(self, api_key: str) -> str:
        return self.auth_template.format(api_key)

    def forwarded(self, opted_in: Iterable[str] = ()) -> frozenset[str]:
        """The lower-case names of the client headers a target of this provider receives."""
        names = (*PROVIDER_CLIENT_HEADERS, *self.client_headers, *opted_in)
        return frozenset(name.lower() for name in names)


PROVIDERS: Mapping[str, Provider] = {
    provider.name: provider
    for provider in (
        Provider(
            "openai",
            "https://api.openai.com",
            "Authorization",
            "Bearer {}",
            client_headers=OPENAI_CLIENT_HEADERS,
        ),
        Provider(
            "anthropic",
            "https://api.anthropic.com",
            "x-api-key",
            extra_headers={"anthropic-version": "2023-06-01"},
            client_headers=("anthropic-version", "anthropic-beta"),
        ),
        Provider("mistral", "https://api.mistral.ai", "Authorization", "Bearer {}"),
        # Azure OpenAI lives on the operator's own resource endpoint.
        Provider("azure", None, "api-key", client_headers=OPENAI_CLIENT_HEADERS),
        # The Gemini API (an operator may point `base_url` at a compatible proxy). Its request
        # options are all in the body; its x-goog-* headers are a credential (x-goog-api-key),
        # the SDK's telemetry (x-goog-api-client) and billing (x-goog-user-project): none go.
        Provider("google", "https://generativelanguage.googleapis.com", "x-goog-api-key"),
        # Bedrock's runtime endpoint is per region: the target's base_url, else its aws_region's.
        # A Bedrock API key goes as a bearer token; AWS access keys sign with SigV4 instead.
        Provider(
            "bedrock",
            None,
            "Authorization",
            "Bearer {}",
            client_headers=tuple(
                f"X-Amzn-Bedrock-{name}"
                for name in (
                    "Trace",
                    "GuardrailIdentifier",
                    "GuardrailVersion",
                    "PerformanceConfig-Latency",
                )
            ),
        ),
    )
}
PROVIDER_NAMES = tuple(PROVIDERS)
# Other names a target may give its provider; stored under the catalogue's name.
PROVIDER_ALIASES: Mapping[str, str] = {"gemini": "google"}
# How a target's clients talk: OpenAI's API translated for the provider, or the provider's own.
TARGET_MODES = ("translate", "passthrough")


def bedrock_base_url(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


def provider_base_url(name: str, base_url: str | None) -> str:
    """The URL requests to this provider go to: the target's own, else the catalogue default."""
    chosen = base_url or PROVIDERS[name].default_base_url
    if not chosen:
        raise ValueError(f"provider {name!r} needs a base_url")
    return chosen.rstrip("/")
