"""Proxy tests run in-process with real commits, so config changes invalidate like in production."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.builders import in_process_post, routed_gateway


@pytest.fixture
def proxy_client() -> Client:
    return Client()


@pytest.fixture
def route(transactional_db, api, upstream):
    """`route(subdomain=..., **options)`: a gateway routed to the `upstream` server."""

    def build(subdomain: str = "api", targets=None, **options):
        targets = targets or [("127.0.0.1", upstream.port)]
        return routed_gateway(in_process_post(api), subdomain=subdomain, targets=targets, **options)

    return build
