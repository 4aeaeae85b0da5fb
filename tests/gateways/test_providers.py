"""The provider catalogue drives target validation and the outgoing request's auth headers."""

from __future__ import annotations

import json

import pytest

from gateways.providers import PROVIDERS
from tests.gateways.test_routing_api import field_errors, gateway_url, make_gateway

HOST = "api.localhost"


def provider_target(provider: str, **extra) -> dict:
    return {
        "provider": provider,
        "credentials": {"api_key": "sk-secret"},
        "models": ["m-1"],
        "default_model": "m-1",
        **extra,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["azure", "bedrock"])
def test_provider_without_default_url_needs_base_url(api, provider):
    gateway = make_gateway(api)
    response = api.post(
        gateway_url(gateway, "upstreams"),
        {"name": "llm", "targets": [provider_target(provider)]},
        format="json",
    )
    assert field_errors(response, "targets.0.base_url")


@pytest.mark.django_db
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_every_provider_is_accepted_with_a_base_url(api, provider):
    gateway = make_gateway(api)
    target = provider_target(provider, base_url="https://llm.example.com")
    response = api.post(
        gateway_url(gateway, "upstreams"), {"name": "llm", "targets": [target]}, format="json"
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("provider", "header", "value"),
    [
        ("anthropic", "x-api-key", "sk-secret"),
        ("azure", "api-key", "sk-secret"),
        ("google", "x-goog-api-key", "sk-secret"),
        ("mistral", "Authorization", "Bearer sk-secret"),
    ],
)
def test_provider_auth_header_from_the_catalogue(
    route, api, upstream, proxy_client, provider, header, value
):
    gateway = route(path="/v1/*")
    url = gateway_url(gateway.gateway, "upstreams", gateway.upstream["id"])
    target = provider_target(
        provider, base_url=f"http://127.0.0.1:{upstream.port}", mode="passthrough"
    )
    assert api.patch(url, {"targets": [target]}, format="json").status_code == 200
    response = proxy_client.post(
        "/v1/messages",
        json.dumps({"model": "m-1", "messages": []}),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    assert response.status_code == 200
    seen = upstream.seen[-1].headers
    assert seen[header] == value
    for name, extra in PROVIDERS[provider].extra_headers.items():
        assert seen[name] == extra
