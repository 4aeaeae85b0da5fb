"""The gateway's own settings: `settings.GATEWAY` over defaults, read through `gateway_settings`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    "BASE_DOMAIN": "localhost",
    "ROLE": "all",  # all | admin | proxy
    "TRUSTED_PROXIES": [],
    "CONNECT_TIMEOUT": 5.0,
    "READ_TIMEOUT": 60.0,
    "CONFIG_CHECK_INTERVAL": 0.1,  # seconds between polls of the published version (Redis)
    "CONFIG_DB_CHECK_INTERVAL": 2.0,  # seconds between checks of the database's own counter
    "SNAPSHOT_CACHE_SIZE": 1000,  # compiled gateways kept per process (LRU)
    "UNKNOWN_HOST_CACHE_SIZE": 10_000,  # unknown subdomains remembered per process (LRU)
    "SNAPSHOT_BUILD_CONCURRENCY": 2,  # database connections a process's proxy side may hold
    "MAX_BODY_BYTES": 32 * 1024 * 1024,
    "BODY_READ_TIMEOUT": 30.0,  # seconds for a whole request body, from its first read
    "MAX_JSON_DEPTH": 64,  # nesting of arrays/objects in a JSON request body
    "UPSTREAM_DENY": [],  # CIDRs no upstream may point into (gateway_project.upstream_deny)
    "PLUGINS": [
        "plugins.builtin.rate_limiter.RateLimiterPlugin",
        "plugins.builtin.token_rate_limiter.TokenRateLimiterPlugin",
        "plugins.builtin.request_size_limiter.RequestSizeLimiterPlugin",
        "plugins.builtin.cors.CorsPlugin",
        "plugins.builtin.ip_filter.IPWhitelistPlugin",
        "plugins.builtin.ip_filter.IPBlacklistPlugin",
    ],
}


class GatewaySettings:
    """Attribute access to GATEWAY settings with defaults; cached until settings change."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"unknown gateway setting {name!r}")
        if name not in self._cache:
            self._cache[name] = getattr(settings, "GATEWAY", {}).get(name, DEFAULTS[name])
        return self._cache[name]

    def reload(self) -> None:
        self._cache.clear()


gateway_settings = GatewaySettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "GATEWAY":
        gateway_settings.reload()


setting_changed.connect(_reload_on_change)
