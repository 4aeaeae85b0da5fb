"""A real gunicorn gateway shared by the end-to-end tests of a session."""

from __future__ import annotations

import pytest

from tests.e2e.server import GatewayServer


@pytest.fixture(scope="session")
def gateway_server(tmp_path_factory):
    import os

    server = GatewayServer(tmp_path_factory.mktemp("e2e"), os.environ["TEST_REDIS_URL"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def e2e_upstream():
    from tests.upstream import UpstreamServer

    server = UpstreamServer().start()
    yield server
    server.stop()
