"""System check gateway.E004: plugin names stored in PluginConfig rows that are not registered.

A database check: it runs for `manage.py check --database default` and before `migrate`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from plugins.checks import check_stored_plugins_are_registered
from plugins.models import PluginConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stored_rate_limiter(create_gateway_with):
    response = create_gateway_with(
        "rate_limiter", {"limits": {"global": {"limit": 5, "window": "1m"}}}
    )
    assert response.status_code == 201, response.content


def retire_stored_plugins() -> None:
    """As if the plugin's class had been removed from GATEWAY["PLUGINS"] since."""
    PluginConfig.objects.update(name="retired")


def test_registered_plugins_pass(stored_rate_limiter):
    assert check_stored_plugins_are_registered(databases=["default"]) == []
    call_command("check", "--database", "default")


def test_unregistered_stored_plugin_is_an_error(stored_rate_limiter):
    retire_stored_plugins()
    [error] = check_stored_plugins_are_registered(databases=["default"])
    assert error.id == "gateway.E004"
    assert error.obj == "retired"
    with pytest.raises(SystemCheckError, match="gateway.E004"):
        call_command("check", "--database", "default")


def test_without_databases_the_check_reads_nothing(stored_rate_limiter, django_assert_num_queries):
    retire_stored_plugins()
    with django_assert_num_queries(0):
        assert check_stored_plugins_are_registered(databases=None) == []
    call_command("check")  # plain `check` (and runserver) do not touch the database


def manage(var_dir: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "gateway_project.settings",
    }
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def test_migrate_runs_the_check_and_a_fresh_database_passes(tmp_path, redis_url):
    first = manage(tmp_path, redis_url, "migrate", "--noinput")  # no table yet: nothing to check
    assert first.returncode == 0, first.stderr
    script = (
        "from gateways.models import Gateway; from plugins.models import PluginConfig; "
        "g = Gateway.objects.create(name='g', subdomain='g'); "
        "PluginConfig.objects.create(gateway=g, name='retired', stage='pre_request')"
    )
    assert manage(tmp_path, redis_url, "shell", "-c", script).returncode == 0
    for command in (("migrate", "--noinput"), ("check", "--database", "default")):
        refused = manage(tmp_path, redis_url, *command)
        assert refused.returncode == 1
        assert "gateway.E004" in refused.stderr
    assert manage(tmp_path, redis_url, "check").returncode == 0
