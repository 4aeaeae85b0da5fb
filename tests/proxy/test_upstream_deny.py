"""GATEWAY_UPSTREAM_DENY: denied IP literals are refused when written, hostnames when connecting."""

from __future__ import annotations

import json

import pytest

HOST = "api.localhost"
LOOPBACK_DENIED = ["127.0.0.0/8", "::1/128"]


@pytest.fixture
def deny(settings):
    def set_deny(cidrs: list[str]) -> None:
        settings.GATEWAY = {**settings.GATEWAY, "UPSTREAM_DENY": cidrs}

    return set_deny


@pytest.fixture
def gateway_id(api) -> str:
    response = api.post("/api/v1/gateways", {"name": "d", "subdomain": "d"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def proxied(proxy_client, key: str):
    return proxy_client.get("/v1/x", HTTP_HOST=HOST, HTTP_X_API_KEY=key)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "[::1]"])
def test_denied_ip_literal_target_is_refused_when_written(api, deny, gateway_id, host):
    deny(LOOPBACK_DENIED)
    response = api.post(
        f"/api/v1/gateways/{gateway_id}/upstreams",
        {"name": "u", "targets": [{"host": host, "port": 80}]},
        format="json",
    )
    assert response.status_code == 400
    assert "GATEWAY_UPSTREAM_DENY" in response.json()["fields"]["targets"]["0"]["host"][0]


def test_denied_endpoint_host_and_provider_base_url_are_refused_when_written(api, deny, gateway_id):
    deny(["169.254.0.0/16"])
    base = f"/api/v1/gateways/{gateway_id}"
    endpoint = api.post(
        f"{base}/services",
        {"name": "s", "type": "endpoint", "host": "169.254.169.254", "port": 80},
        format="json",
    )
    assert endpoint.status_code == 400
    assert list(endpoint.json()["fields"]) == ["host"]
    provider = api.post(
        f"{base}/upstreams",
        {
            "name": "p",
            "targets": [
                {
                    "provider": "openai",
                    "base_url": "http://169.254.169.254/v1",
                    "credentials": {"api_key": "sk-test"},
                    "models": ["gpt-4o-mini"],
                    "default_model": "gpt-4o-mini",
                }
            ],
        },
        format="json",
    )
    assert provider.status_code == 400
    assert list(provider.json()["fields"]["targets"]["0"]) == ["base_url"]


def test_hostname_resolving_into_a_denied_network_is_refused_without_connecting(
    route, upstream, proxy_client, deny
):
    deny(LOOPBACK_DENIED)
    gateway = route(targets=[("localhost", upstream.port)])  # a hostname passes the write
    response = proxied(proxy_client, gateway.key)
    assert response.status_code == 502
    assert json.loads(response.content) == {"error": "upstream address not allowed"}
    assert upstream.seen == []


def test_target_written_before_the_deny_list_is_refused_when_connecting(
    route, upstream, proxy_client, deny
):
    gateway = route(targets=[("127.0.0.1", upstream.port)])
    deny(LOOPBACK_DENIED)
    response = proxied(proxy_client, gateway.key)
    assert response.status_code == 502
    assert json.loads(response.content) == {"error": "upstream address not allowed"}
    assert upstream.seen == []


@pytest.mark.parametrize("cidrs", [[], ["10.0.0.0/8", "169.254.0.0/16"]], ids=["empty", "other"])
def test_addresses_outside_the_deny_list_are_reached(route, upstream, proxy_client, deny, cidrs):
    deny(cidrs)
    gateway = route(targets=[("localhost", upstream.port)])  # ::1 refused, then 127.0.0.1
    response = proxied(proxy_client, gateway.key)
    assert response.status_code == 200
    assert upstream.seen[-1].path == "/v1/x"


@pytest.fixture
def name_lookups(monkeypatch) -> list[str]:
    """The hosts passed to socket.getaddrinfo (still answered by the real resolver)."""
    import socket

    looked_up: list[str] = []
    real = socket.getaddrinfo

    def recorded(host, *args, **kwargs):
        looked_up.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recorded)
    return looked_up


@pytest.mark.parametrize("cidrs", [[], ["10.0.0.0/8"]], ids=["no-deny-list", "deny-list"])
def test_ip_literal_target_is_connected_to_without_a_name_lookup(
    route, upstream, proxy_client, deny, cidrs, name_lookups
):
    deny(cidrs)
    gateway = route(targets=[("127.0.0.1", upstream.port)])
    response = proxied(proxy_client, gateway.key)
    assert response.status_code == 200
    assert upstream.seen[-1].path == "/v1/x"
    assert name_lookups == []


@pytest.mark.parametrize("cidrs", [[], ["10.0.0.0/8"]], ids=["no-deny-list", "deny-list"])
def test_hostname_target_is_still_looked_up(
    route, upstream, proxy_client, deny, cidrs, name_lookups
):
    deny(cidrs)
    gateway = route(targets=[("localhost", upstream.port)])
    response = proxied(proxy_client, gateway.key)
    assert response.status_code == 200
    assert "localhost" in name_lookups


def test_unreachable_ip_literal_is_a_502_naming_the_refusal(route, proxy_client, caplog):
    from tests.upstream import free_port

    gateway = route(targets=[("127.0.0.1", free_port())])
    response = proxied(proxy_client, gateway.key)
    assert response.status_code == 502
    assert json.loads(response.content) == {"error": "upstream unreachable"}
    assert "NewConnectionError" in caplog.text
    assert "Connection refused" in caplog.text
