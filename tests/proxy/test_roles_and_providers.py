"""GATEWAY_ROLE splits the planes; LLM provider targets get credentials and a default model."""

from __future__ import annotations

import json

import pytest

HOST = "api.localhost"


@pytest.fixture
def role(settings):
    def set_role(value: str) -> None:
        settings.GATEWAY = {**settings.GATEWAY, "ROLE": value}

    return set_role


def test_proxy_role_serves_no_admin_plane(role, route, proxy_client, admin_token):
    gateway = route()
    role("proxy")
    admin = proxy_client.get("/api/v1/gateways", HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert admin.status_code == 404
    assert json.loads(admin.content) == {"error": "Gateway not found"}
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 200


def test_admin_role_serves_no_gateway_traffic(role, route, proxy_client, upstream):
    gateway = route()
    role("admin")
    response = proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 404
    assert upstream.seen == []


def test_provider_target_gets_its_api_key_and_default_model(route, api, upstream, proxy_client):
    """A request without a model gets the target's default; a model no target serves is 400."""
    gateway = route(path="/v1/*")
    url = f"/api/v1/gateways/{gateway.id}/upstreams/{gateway.upstream['id']}"
    target = {
        "provider": "openai",
        "base_url": f"http://127.0.0.1:{upstream.port}",
        "models": ["gpt-small", "gpt-large"],
        "default_model": "gpt-small",
        "credentials": {"api_key": "sk-upstream"},
    }
    assert api.patch(url, {"targets": [target]}, format="json").status_code == 200

    def chat(body: dict):
        return proxy_client.post(
            "/v1/chat/completions",
            json.dumps(body),
            content_type="application/json",
            HTTP_HOST=HOST,
            HTTP_AUTHORIZATION=f"Bearer {gateway.key}",
        )

    messages = [{"role": "user", "content": "hi"}]
    assert chat({"messages": messages}).status_code == 200
    seen = upstream.seen[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == "Bearer sk-upstream"
    assert json.loads(seen.body)["model"] == "gpt-small"
    refused = chat({"model": "unknown-model", "messages": messages})
    assert refused.status_code == 400
    assert json.loads(refused.content)["error"] == {
        "message": "model 'unknown-model' is not available; allowed models: gpt-small, gpt-large",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    assert len(upstream.seen) == 1
