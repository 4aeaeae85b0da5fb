"""One gunicorn gateway and one mock of every provider for the whole conformance suite: a rule
`/v1/*` whose upstream has a priced target per provider (the model picks it), and a rule of an
Anthropic passthrough target for Anthropic's own SDK."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.services import wait_until
from tests.e2e.test_llm_front_e2e import PROVIDERS, provider_target
from tests.llm_mocks.server import LLMMockServer

PRICING = {"input_per_million": 1.5, "output_per_million": 4}
# What one call of the mocks costs at PRICING (11 prompt tokens, 7 completion tokens).
COST = (11 * 1.5 + 7 * 4) / 1_000_000
# A 1x1 PNG, sent as a data URL (every provider takes those).
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Front:
    """Where the clients send: the gateway's base URL, the Host that names the gateway, a key."""

    server: GatewayServer
    host: str
    key: str

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def logged(self, request_id: str) -> dict:
        """The access-log line of `request_id`, once written (after the answer's last byte)."""
        path = Path(self.server.var_dir) / "access.log"

        def lines() -> list[dict]:
            text = path.read_text() if path.exists() else ""
            return [json.loads(line) for line in text.splitlines()]

        wait_until(lambda: any(line.get("request_id") == request_id for line in lines()), 10)
        return next(line for line in lines() if line.get("request_id") == request_id)


@pytest.fixture(scope="session")
def conformance_server(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("conformance")
    server = GatewayServer(
        var_dir,
        os.environ["TEST_REDIS_URL"],
        workers=2,
        GATEWAY_ACCESS_LOG=str(var_dir / "access.log"),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def provider_mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def front(conformance_server, provider_mock) -> Front:
    targets = [
        {**provider_target(provider, provider_mock.url), "pricing": PRICING}
        for provider in PROVIDERS
    ]
    gateway = routed_gateway(
        conformance_server.post, subdomain="conform", target_dicts=targets, path="/v1/*"
    )
    return Front(conformance_server, "conform.localhost", gateway.key)


@pytest.fixture(scope="session")
def native_front(conformance_server, provider_mock) -> Front:
    target = {
        **provider_target("anthropic", provider_mock.url),
        "mode": "passthrough",
        "pricing": PRICING,
    }
    gateway = routed_gateway(
        conformance_server.post, subdomain="conform-native", target_dicts=[target], path="/v1/*"
    )
    return Front(conformance_server, "conform-native.localhost", gateway.key)
