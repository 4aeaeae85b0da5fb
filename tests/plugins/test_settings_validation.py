"""Plugin settings at the admin edge: strict types and keys, stored as validated, built once."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from plugins.models import PluginConfig
from tests.plugins.helpers import make_plugin, settings_errors

pytestmark = pytest.mark.django_db

PER_IP = {"per_ip": {"limit": 5, "window": "1m"}}
CORS = {"allowed_origins": ["https://app.example.com"], "allowed_methods": ["GET"]}


@pytest.mark.parametrize(
    ("name", "settings", "field"),
    [
        ("rate_limiter", {"limits": PER_IP, "fail_open": "false"}, "fail_open"),
        ("rate_limiter", {"limits": PER_IP, "fail_open": 0}, "fail_open"),
        ("cors", {**CORS, "allow_credentials": "true"}, "allow_credentials"),
        (
            "request_size_limiter",
            {"allowed_payload_size": 1, "require_content_length": "yes"},
            "require_content_length",
        ),
    ],
)
def test_textual_booleans_in_settings_are_refused(create_gateway_with, name, settings, field):
    errors = settings_errors(create_gateway_with(name, settings))
    assert errors == {field: ["Must be a JSON boolean (true or false)."]}
    assert not PluginConfig.objects.exists()


@pytest.mark.parametrize("field", ["enabled", "parallel"])
def test_textual_booleans_in_the_plugin_entry_are_refused(api, field):
    plugin = {"name": "rate_limiter", "stage": "pre_request", "settings": {"limits": PER_IP}}
    payload = {"name": "g", "subdomain": "g", "required_plugins": [{**plugin, field: "false"}]}
    response = api.post("/api/v1/gateways", payload, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["required_plugins"]["0"] == {
        field: ["Must be a JSON boolean (true or false)."]
    }


@pytest.mark.parametrize(
    ("settings", "errors"),
    [
        (
            {"limits": {"global": {"limit": 10, "window": "1m", "burst": 5}}},
            {"limits": {"global": {"burst": ["Unknown field."]}}},
        ),
        (
            {"limits": PER_IP, "actions": {"type": "reject", "retry_afterr": 30}},
            {"actions": {"retry_afterr": ["Unknown field."]}},
        ),
        ({"limits": PER_IP, "failopen": True}, {"failopen": ["Unknown setting."]}),
    ],
)
def test_unknown_nested_settings_are_refused(create_gateway_with, settings, errors):
    assert settings_errors(create_gateway_with("rate_limiter", settings)) == errors


def test_unknown_key_of_a_plugin_entry_is_refused(api):
    plugin = {"name": "rate_limiter", "stage": "pre_request", "setting": {"limits": PER_IP}}
    payload = {"name": "g", "subdomain": "g", "required_plugins": [plugin]}
    response = api.post("/api/v1/gateways", payload, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["required_plugins"]["0"] == {"setting": ["Unknown field."]}


def test_settings_are_stored_and_shown_normalised(api, create_gateway_with):
    settings = {
        "limits": {"global": {"limit": "10", "window": "1M"}},
        "actions": {"type": "block", "retry_after": "60"},
    }
    response = create_gateway_with("rate_limiter", settings)
    assert response.status_code == 201, response.json()
    expected = {
        "limits": {"global": {"limit": 10, "window": "1m"}},
        "actions": {"type": "block", "retry_after": 60},
    }
    assert response.json()["required_plugins"][0]["settings"] == expected
    assert PluginConfig.objects.get().settings == expected
    shown = api.get(f"/api/v1/gateways/{response.json()['id']}").json()
    assert shown["required_plugins"][0]["settings"] == expected


def test_cors_settings_are_stored_normalised(create_gateway_with):
    settings = {
        "allowed_origins": ["HTTPS://App.Example.com:443"],
        "allowed_methods": ["get", "Post"],
        "max_age": "10m",
    }
    response = create_gateway_with("cors", settings)
    assert response.status_code == 201, response.json()
    assert PluginConfig.objects.get().settings == {
        "allowed_origins": ["https://app.example.com"],
        "allowed_methods": ["GET", "POST"],
        "max_age": 600,
        "allow_credentials": False,
        "expose_headers": [],
        "require_origin": False,
        "log_violations": False,
    }


def test_plugin_entry_numbers_are_stored_as_numbers(api):
    plugin = {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": "7",
        "settings": {"limits": PER_IP},
    }
    payload = {"name": "g", "subdomain": "g", "required_plugins": [plugin]}
    response = api.post("/api/v1/gateways", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["required_plugins"][0]["priority"] == 7


def test_plugins_are_built_with_their_validated_config():
    plugin = make_plugin("request_size_limiter", {"allowed_payload_size": 2})
    assert plugin.settings == {
        "allowed_payload_size": 2,
        "size_unit": "megabytes",
        "require_content_length": False,
    }
    limiter = make_plugin("rate_limiter", {"limits": PER_IP, "fail_open": False})
    assert limiter.fail_open is False
    assert make_plugin("rate_limiter", {"limits": PER_IP}).fail_open is True  # its default


def test_raw_settings_never_reach_a_plugin():
    with pytest.raises(serializers.ValidationError):
        make_plugin("rate_limiter", {"limits": PER_IP, "fail_open": "false"})
    with pytest.raises(serializers.ValidationError):
        make_plugin("rate_limiter", {"limits": {"global": {"limit": 1, "window": "1m", "x": 1}}})
