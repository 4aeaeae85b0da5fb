"""Fixtures of the proxy's LLM tests: a mock provider speaking every provider's wire format,
and a gateway on `llm.localhost` routed to given provider targets."""

from __future__ import annotations

import pytest

from tests.builders import in_process_post, routed_gateway
from tests.llm_mocks.server import LLMMockServer


@pytest.fixture
def mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm_gateway(transactional_db, api):
    def build(targets: list[dict], **rule):
        return routed_gateway(
            in_process_post(api), subdomain="llm", target_dicts=targets, path="/v1/*", **rule
        )

    return build
