"""Shared fixtures: the test settings' Redis, admin API clients, factories."""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from gateway_project.embedded_redis import stop_embedded_redis


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the session's real gunicorn is an e2e test (`make test-fast` skips
    them), marked or not."""
    for item in items:
        if "gateway_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the embedded Redis the test settings started (none when TEST_REDIS_URL was given)."""
    if settings.TEST_REDIS_DIR.exists():
        stop_embedded_redis(settings.TEST_REDIS_DIR)
        shutil.rmtree(settings.TEST_REDIS_DIR, ignore_errors=True)


@pytest.fixture
def redis_url() -> str:
    return settings.TEST_REDIS_URL


@pytest.fixture
def redis_conn():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


@pytest.fixture
def admin_token(db) -> str:
    from keys.services import admin_token_create

    return admin_token_create(username="admin")[1]


@pytest.fixture
def api(admin_token: str) -> APIClient:
    """An admin API client authenticated with a real admin token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    return client


@pytest.fixture
def anonymous_api() -> APIClient:
    return APIClient()


SEED_RATE_LIMITER = {
    "name": "rate_limiter",
    "enabled": True,
    "stage": "pre_request",
    "priority": 1,
    "settings": {
        "limits": {
            "global": {"limit": 15, "window": "1m"},
            "per_ip": {"limit": 5, "window": "1m"},
            "per_user": {"limit": 5, "window": "1m"},
        },
        "actions": {"type": "reject", "retry_after": "60"},
    },
}


@pytest.fixture
def seed_gateway_payload() -> dict:
    """The seed's create request, braces restored."""
    return {"name": "my-first-gateway", "subdomain": "api", "required_plugins": [SEED_RATE_LIMITER]}


@pytest.fixture
def sample_plugins(settings):
    """The small real plugins of tests/plugins/sample_plugins.py registered beside the built-ins."""
    from gateway_project.conf import DEFAULTS
    from plugins.registry import registry
    from tests.plugins.sample_plugins import SAMPLE_PLUGINS

    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": [*DEFAULTS["PLUGINS"], *SAMPLE_PLUGINS]}
    registry.load()
    yield
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


@pytest.fixture
def upstreams():
    """Start real upstream HTTP servers on demand: `upstreams.start()`; all stopped afterwards."""
    from tests.upstream import Upstreams

    started = Upstreams()
    yield started
    started.stop_all()


@pytest.fixture
def upstream(upstreams):
    return upstreams.start()


@pytest.fixture
def proxy_client():
    from django.test import Client

    return Client()


@pytest.fixture
def route(transactional_db, api, upstream):
    """`route(subdomain=..., **options)`: a gateway routed to the `upstream` server, with a key.

    Proxy tests commit for real (transactional_db) so config changes invalidate as in production.
    """
    from tests.builders import in_process_post, routed_gateway

    def build(subdomain: str = "api", targets=None, **options):
        targets = targets or [("127.0.0.1", upstream.port)]
        return routed_gateway(in_process_post(api), subdomain=subdomain, targets=targets, **options)

    return build


@pytest.fixture
def redis_down(settings):
    """The default cache pointed at a port where no Redis listens."""
    location = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": location},
    }


@pytest.fixture(scope="session")
def gateway_server(tmp_path_factory):
    """A real gunicorn gateway shared by the end-to-end tests of a session (tests/e2e and the
    transport attacks of tests/attacks)."""
    from tests.e2e.server import GatewayServer

    server = GatewayServer(tmp_path_factory.mktemp("e2e"), os.environ["TEST_REDIS_URL"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def e2e_upstream():
    from tests.upstream import UpstreamServer

    server = UpstreamServer().start()
    yield server
    server.stop()
