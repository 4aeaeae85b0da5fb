"""/healthz and /readyz answer on every host, before any gateway is resolved."""

from __future__ import annotations

import socket
import threading

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


def test_an_unanswering_postgresql_host_fails_within_the_connect_timeout(django_db_blocker):
    """A host that accepts TCP and never speaks (a black hole behind a load balancer): the
    readiness query fails after the default connect timeout instead of holding /readyz."""
    from django.db import OperationalError
    from django.db.utils import ConnectionHandler

    from gateway_project.settings.base import POSTGRES_CONNECT_TIMEOUT_SECONDS, database_settings

    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        database = database_settings(f"postgres://gateway:secret@127.0.0.1:{port}/gateway", 0)
        assert database["OPTIONS"]["connect_timeout"] == POSTGRES_CONNECT_TIMEOUT_SECONDS
        connection = ConnectionHandler({"default": database})["default"]
        outcome: list[BaseException] = []
        attempt = threading.Thread(target=lambda: outcome.append(connect_error(connection)))
        with django_db_blocker.unblock():
            attempt.start()
            attempt.join(POSTGRES_CONNECT_TIMEOUT_SECONDS * 3)
        assert not attempt.is_alive()
        assert isinstance(outcome[0], OperationalError)


def connect_error(connection) -> BaseException | None:
    try:
        connection.ensure_connection()
    except BaseException as exc:  # noqa: BLE001 - the test asserts which
        return exc
    return None


def test_a_connect_timeout_in_the_database_url_is_kept():
    from gateway_project.settings.base import database_settings

    url = "postgres://gateway:secret@db.internal/gateway?connect_timeout=2"
    assert database_settings(url, 0)["OPTIONS"] == {"connect_timeout": 2}
