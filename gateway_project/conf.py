"""The gateway's own settings: `settings.GATEWAY` over defaults, read through `gateway_settings`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from gateway_project.env import gateway_defaults

ROLES = ("all", "admin", "proxy")  # GATEWAY["ROLE"]: the planes this process serves
DEFAULTS: dict[str, Any] = {
    **gateway_defaults(),  # the GATEWAY_* variables' defaults (gateway_project.env)
    "PLUGINS": [
        "plugins.builtin.rate_limiter.RateLimiterPlugin",
        "plugins.builtin.token_rate_limiter.TokenRateLimiterPlugin",
        "plugins.builtin.response_cache.ResponseCachePlugin",
        "plugins.builtin.request_size_limiter.RequestSizeLimiterPlugin",
        "plugins.builtin.cors.CorsPlugin",
        "plugins.builtin.ip_filter.IPWhitelistPlugin",
        "plugins.builtin.ip_filter.IPBlacklistPlugin",
        "plugins.builtin.injection_protection.InjectionProtectionPlugin",
        "plugins.builtin.code_sanitation.CodeSanitationPlugin",
        "plugins.builtin.prompt_moderation.PromptModerationPlugin",
        "plugins.builtin.data_masking.DataMaskingPlugin",
        "plugins.builtin.guardrails.external_api.ExternalAPIPlugin",
        "plugins.builtin.guardrails.toxicity_openai.ToxicityOpenAIPlugin",
        "plugins.builtin.guardrails.toxicity_azure.ToxicityAzurePlugin",
        "plugins.builtin.guardrails.bedrock.BedrockGuardrailPlugin",
    ],
}


class GatewaySettings:
    """Attribute access to GATEWAY settings with defaults; cached until settings change.

    A setting read once is kept as an attribute of the object: later reads are plain attribute
    reads, not a failed lookup (an AttributeError made and caught) before __getattr__ (the proxy
    reads a dozen settings a request)."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"unknown gateway setting {name!r}")
        value = getattr(settings, "GATEWAY", {}).get(name, DEFAULTS[name])
        self.__dict__[name] = value
        return value

    def reload(self) -> None:
        self.__dict__.clear()


gateway_settings = GatewaySettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "GATEWAY":
        gateway_settings.reload()


setting_changed.connect(_reload_on_change)
