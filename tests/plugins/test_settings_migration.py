"""The data migration that re-normalises plugin settings stored before validation was strict."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("plugins", "0001_initial")]
AFTER = [("plugins", "0002_normalise_plugin_settings")]

LEGACY = {
    "limits": {"global": {"limit": "10", "window": "1M", "burst": 3}},
    "actions": {"type": "reject", "retry_after": "60", "retry_afterr": 1},
    "fail_open": "false",
}
CORS_LEGACY = {
    "allowed_origins": ["HTTPS://App.Example.com"],
    "allowed_methods": ["get"],
    "allow_credentials": "true",
}
BROKEN = {"limits": {}}


@pytest.mark.django_db(transaction=True)
def test_stored_settings_are_renormalised():
    executor = MigrationExecutor(connection)
    # The other apps stay at their latest state: their tables keep every column they have.
    before = [*BEFORE, *executor.loader.graph.leaf_nodes("gateways")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    gateway = apps.get_model("gateways", "Gateway").objects.create(name="g", subdomain="g")
    PluginConfig = apps.get_model("plugins", "PluginConfig")
    rows = {
        settings_name: PluginConfig.objects.create(
            gateway=gateway, name=name, stage="pre_request", position=index, settings=settings
        ).pk
        for index, (settings_name, name, settings) in enumerate(
            [
                ("legacy", "rate_limiter", LEGACY),
                ("cors", "cors", CORS_LEGACY),
                ("broken", "rate_limiter", BROKEN),
                ("unknown", "no_such_plugin", {"x": "1"}),
            ]
        )
    }

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    PluginConfig = executor.loader.project_state(AFTER).apps.get_model("plugins", "PluginConfig")

    def stored(name: str) -> dict:
        return PluginConfig.objects.get(pk=rows[name]).settings

    assert stored("legacy") == {
        "limits": {"global": {"limit": 10, "window": "1m"}},
        "actions": {"type": "reject", "retry_after": 60},
        "fail_open": False,
    }
    assert stored("cors") == {
        "allowed_origins": ["https://app.example.com"],
        "allowed_methods": ["GET"],
        "allow_credentials": True,
        "expose_headers": [],
        "require_origin": False,  # the migration normalises with today's serializer
        "log_violations": False,
    }
    assert stored("broken") == BROKEN  # cannot be normalised: left for the operator
    assert stored("unknown") == {"x": "1"}
