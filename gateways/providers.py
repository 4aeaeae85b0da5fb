"""The LLM provider catalogue: one table of what the gateway knows about each provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Provider:
    """How to reach and authenticate to one provider's API."""

    name: str
    default_base_url: str | None  # None: every target must give its own `base_url`
    auth_header: str
    auth_template: str = "{}"
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def auth_value(self, api_key: str) -> str:
        return self.auth_template.format(api_key)


PROVIDERS: Mapping[str, Provider] = {
    provider.name: provider
    for provider in (
        Provider("openai", "https://api.openai.com", "Authorization", "Bearer {}"),
        Provider(
            "anthropic",
            "https://api.anthropic.com",
            "x-api-key",
            extra_headers={"anthropic-version": "2023-06-01"},
        ),
        Provider("mistral", "https://api.mistral.ai", "Authorization", "Bearer {}"),
        # Azure OpenAI lives on the operator's own resource endpoint.
        Provider("azure", None, "api-key"),
        # The Gemini API (an operator may point `base_url` at a compatible proxy).
        Provider("google", "https://generativelanguage.googleapis.com", "x-goog-api-key"),
        # Bedrock's runtime endpoint is per region: the target's base_url, else its aws_region's.
        # A Bedrock API key goes as a bearer token; AWS access keys sign with SigV4 instead.
        Provider("bedrock", None, "Authorization", "Bearer {}"),
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
