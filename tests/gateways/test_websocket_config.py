"""An upstream's `websocket_config` (TrustGate's fields and ours): stored with defaults,
validated at the edge."""

from __future__ import annotations

import pytest

from tests.gateways.test_routing_api import (
    HOST_TARGET,
    field_errors,
    gateway_url,
    make_gateway,
    make_upstream,
)


def test_websocket_config_is_stored_with_its_defaults(api, db):
    gateway = make_gateway(api, "ws-config")
    upstream = make_upstream(
        api, gateway, websocket_config={"ping_period": "1m30s", "read_buffer_size": 4096}
    )
    assert upstream["websocket_config"] == {
        "enable_direct_communication": False,
        "return_error_details": False,
        "ping_period": "1m30s",
        "pong_wait": "60s",
        "handshake_timeout": "15s",
        "read_buffer_size": 4096,
        "write_buffer_size": 0,
        "max_message_size": 16 * 2**20,
        "idle_timeout": "10m",
    }


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"ping_period": "soon"}, "websocket_config.ping_period"),
        ({"handshake_timeout": 15}, "websocket_config.handshake_timeout"),
        ({"read_buffer_size": -1}, "websocket_config.read_buffer_size"),
        ({"write_buffer_size": "big"}, "websocket_config.write_buffer_size"),
        ({"max_message_size": 0}, "websocket_config.max_message_size"),
        ({"ping_periodd": "1s"}, "websocket_config.ping_periodd"),
    ],
)
def test_invalid_websocket_config_is_a_400_naming_the_field(api, db, config, field):
    gateway = make_gateway(api, "ws-invalid")
    payload = {"name": "u", "targets": [HOST_TARGET], "websocket_config": config}
    response = api.post(gateway_url(gateway, "upstreams"), payload, format="json")
    assert field_errors(response, field)


def test_websocket_config_and_proxy_config_together_are_a_400(api, db):
    gateway = make_gateway(api, "ws-proxy")
    payload = {
        "name": "u",
        "targets": [HOST_TARGET],
        "websocket_config": {"ping_period": "10s"},
        "proxy_config": {"host": "proxy.internal", "port": 3128},
    }
    response = api.post(gateway_url(gateway, "upstreams"), payload, format="json")
    assert field_errors(response, "websocket_config") == [
        "Cannot be set together with proxy_config."
    ]
