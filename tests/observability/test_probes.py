"""/healthz and /readyz answer on every host, before any gateway is resolved."""

from __future__ import annotations

import pytest

from observability import probes


@pytest.mark.parametrize("host", ["localhost", "api.localhost", "nosuch.localhost"])
def test_probes_answer_on_every_host(client, db, host):
    health = client.get("/healthz", HTTP_HOST=host)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = client.get("/readyz", HTTP_HOST=host)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_does_no_io(client):
    """No database fixture: a query would raise."""
    assert client.get("/healthz", HTTP_HOST="api.localhost").status_code == 200


def test_readyz_names_what_is_down(client, db, settings):
    """Redis at an address nothing listens on: 503, naming Redis (the e2e test stops a real one)."""
    from gateway_project.settings.base import cache_settings

    settings.CACHES = cache_settings("redis://127.0.0.1:1/0")  # Django drops its cache clients
    response = client.get("/readyz", HTTP_HOST="api.localhost")
    assert response.status_code == 503
    assert response.json() == {
        "error": "not ready: redis unreachable",
        "checks": {"database": "ok", "redis": "down"},
    }
    assert probes.database_reachable()
