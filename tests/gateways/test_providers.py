"""The provider catalogue drives target validation and the outgoing request's auth headers."""

from __future__ import annotations

import json

import pytest

from gateways.providers import PROVIDER_TARGET_FIELDS, PROVIDERS
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


def create_upstream(api, target: dict):
    gateway = make_gateway(api)
    return api.post(
        gateway_url(gateway, "upstreams"), {"name": "llm", "targets": [target]}, format="json"
    )


@pytest.mark.django_db
def test_aws_credentials_are_write_only_and_the_region_gives_the_base_url(api):
    credentials = {
        "aws_access_key_id": "AKIAEXAMPLEEXAMPLE01",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG",
        "aws_session_token": "FwoGZXIvYXdzEJr",
        "aws_region": "eu-west-3",
    }
    response = create_upstream(api, provider_target("bedrock", credentials=credentials))
    assert response.status_code == 201, response.json()
    target = response.json()["targets"][0]
    assert target["base_url"] == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert target["credentials"] == {
        **credentials,
        "aws_secret_access_key": "********",
        "aws_session_token": "********",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("credentials", "path"),
    [
        ({"aws_access_key_id": "AKIAEXAMPLEEXAMPLE01"}, "targets.0.credentials"),
        (
            {"aws_access_key_id": "AKIAEXAMPLEEXAMPLE01", "aws_secret_access_key": "s"},
            "targets.0.credentials.aws_region",
        ),
        ({"aws_region": "eu-west-3"}, "targets.0.credentials"),
    ],
)
def test_bedrock_needs_complete_aws_credentials(api, credentials, path):
    response = create_upstream(api, provider_target("bedrock", credentials=credentials))
    assert field_errors(response, path)


@pytest.mark.django_db
def test_gemini_is_an_alias_of_google(api):
    response = create_upstream(api, provider_target("gemini"))
    assert response.status_code == 201, response.json()
    assert response.json()["targets"][0]["provider"] == "google"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("target", "path"),
    [
        (provider_target("openai", deployments={"m-1": "d"}), "targets.0.deployments"),
        (
            provider_target("azure", base_url="https://r.openai.azure.com", deployments={"x": "d"}),
            "targets.0.deployments",
        ),
        (provider_target("openai", mode="sideways"), "targets.0.mode"),
        ({"host": "example.com", "mode": "passthrough"}, "targets.0.mode"),
    ],
)
def test_llm_target_settings_are_checked(api, target, path):
    assert field_errors(create_upstream(api, target), path)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "name"),
    [
        (provider, name)
        for name in PROVIDER_TARGET_FIELDS
        for provider in sorted(PROVIDERS)
        if name not in PROVIDERS[provider].target_fields
    ],
)
def test_a_target_setting_of_the_table_is_refused_for_the_providers_without_it(api, provider, name):
    values = {
        "deployments": {"m-1": "d"},
        "api_version": "2024-10-21",
        "provider_options": {"api": "responses"},
    }
    target = provider_target(provider, base_url="https://llm.example.com", **{name: values[name]})
    assert field_errors(create_upstream(api, target), f"targets.0.{name}")


@pytest.mark.django_db
@pytest.mark.parametrize("provider", [p for p in sorted(PROVIDERS) if PROVIDERS[p].credentials])
def test_a_target_without_the_credentials_its_provider_takes_is_refused(api, provider):
    credentials = {"header_name": "X-K", "header_value": "v"}
    target = provider_target(provider, base_url="https://llm.example.com", credentials=credentials)
    assert field_errors(create_upstream(api, target), "targets.0.credentials")
