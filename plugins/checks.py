"""System checks of the plugin set-up (ids `gateway.E001`, `gateway.E004`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import connections


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


@register(Tags.database)
def check_stored_plugins_are_registered(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[Error]:
    """Every plugin name stored in PluginConfig rows is in GATEWAY["PLUGINS"]; otherwise each
    request through those gateways fails. A database check: Django passes `databases` (and so
    this runs) for `manage.py check --database default` and before `manage.py migrate`."""
    errors = []
    for alias in databases or ():
        for name in _unregistered_names(alias):
            errors.append(
                Error(
                    f"Plugin {name!r} is configured on gateways or rules in database {alias!r} "
                    "but is not registered: their requests fail.",
                    hint="Add its class to GATEWAY['PLUGINS'] again, or remove it from those "
                    "gateways and rules (manage.py migrate --skip-checks if a migration "
                    "does that).",
                    obj=name,
                    id="gateway.E004",
                )
            )
    return errors


def _unregistered_names(alias: str) -> list[str]:
    from plugins.models import PluginConfig
    from plugins.registry import registry

    if PluginConfig._meta.db_table not in connections[alias].introspection.table_names():
        return []  # before the first migrate
    stored = PluginConfig.objects.using(alias).values_list("name", flat=True).distinct()
    return sorted(set(stored) - set(registry.names()))
