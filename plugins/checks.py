"""System checks of the plugin set-up (ids `gateway.E001`...)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_rate_limit_cache_is_shared(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Rate limits must live in a Redis shared by every worker, never in a local cache."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend != "django_redis.cache.RedisCache":
        return [
            Error(
                "The default cache is not Redis: rate limits and config invalidation would not "
                "be shared between processes.",
                hint="Use django_redis.cache.RedisCache (set REDIS_URL or use the embedded one).",
                id="gateway.E001",
            )
        ]
    return []
