"""GET /api/v1/plugins: every registered plugin, its stages and a JSON Schema of its settings."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from jsonschema import Draft202012Validator

from plugins.base import CATEGORIES, Plugin
from plugins.registry import registry
from plugins.validation import PluginConfigSerializer

pytestmark = pytest.mark.django_db

URL = "/api/v1/plugins"
CORS = {"allowed_origins": ["https://app.example.com"], "allowed_methods": ["GET"]}
PER_IP = {"limits": {"per_ip": {"limit": 5, "window": "1m"}}}

# Settings the API accepts, which the schema must accept too.
VALID = [
    ("rate_limiter", PER_IP),
    (
        "rate_limiter",
        {**PER_IP, "actions": {"type": "block", "retry_after": "60"}, "fail_open": True},
    ),
    ("rate_limiter", {**PER_IP, "actions": {"type": "reject", "retry_after": 30}}),
    ("cors", CORS),
    ("cors", {**CORS, "max_age": 600, "allowed_headers": ["X-Trace"]}),
    ("cors", {**CORS, "max_age": "10m"}),
    ("request_size_limiter", {"allowed_payload_size": 10, "max_chars_per_request": None}),
    ("request_size_limiter", {"allowed_payload_size": 512, "size_unit": "kilobytes"}),
    ("token_rate_limiter", {"limit": 1000, "window": "1m", "identifier": "user"}),
    ("ip_whitelist", {"ips": ["10.0.0.1"], "cidrs": ["10.0.0.0/8"]}),
    ("ip_blacklist", {"cidrs": ["2001:db8::/32"]}),
    ("ip_whitelist", {"enabled": False}),
    ("ip_whitelist", {"enabled": True, "ips": ["127.0.0.1"]}),
    ("cors", {**CORS, "log_violations": True, "require_origin": True}),
    ("injection_protection", {"content_to_check": ["all"]}),
    (
        "injection_protection",
        {
            "predefined_injections": [{"type": "sql", "enabled": True}],
            "custom_injections": [
                {"name": "no-debug", "pattern": "debug=true", "content_to_check": "path_and_query"}
            ],
            "content_to_check": ["headers", "path_and_query", "body"],
            "action": "log_only",
            "status_code": 403,
        },
    ),
    (
        "code_sanitation",
        {"apply_all_languages": True, "content_to_check": ["body"], "action": "sanitize"},
    ),
    (
        "prompt_moderation",
        {
            "keywords": ["bomb"],
            "regex": ["how to make .* explosives"],
            "actions": {"type": "block"},
        },
    ),
]
# Settings the schema refuses, which the API must refuse too.
INVALID = [
    ("rate_limiter", {}),
    ("rate_limiter", {"limits": {"per_ip": {"limit": 0, "window": "1m"}}}),
    ("rate_limiter", {"limits": {"per_hour": {"limit": 1, "window": "1h"}}}),
    ("rate_limiter", {**PER_IP, "actions": {"type": "drop"}}),
    ("rate_limiter", {**PER_IP, "burst": 3}),
    ("cors", {**CORS, "allowed_origins": []}),
    ("cors", {**CORS, "max_age": True}),
    ("request_size_limiter", {"allowed_payload_size": 0}),
    ("request_size_limiter", {"allowed_payload_size": 1, "size_unit": "gigabytes"}),
    ("token_rate_limiter", {"window": "1m"}),
    ("token_rate_limiter", {"limit": 10, "identifier": "ip"}),
    # strict: unknown keys at every level, booleans that are JSON booleans
    ("rate_limiter", {"limits": {"global": {"limit": 1, "window": "1m", "burst": 3}}}),
    ("rate_limiter", {**PER_IP, "actions": {"type": "reject", "retry_afterr": 5}}),
    ("rate_limiter", {**PER_IP, "fail_open": "false"}),
    ("cors", {**CORS, "allow_credentials": "true"}),
    ("request_size_limiter", {"allowed_payload_size": 1, "require_content_length": 1}),
    ("ip_blacklist", {"cidrs": ["10.0.0.0/8"], "fail_open": "no"}),
    ("ip_whitelist", {"ips": ["10.0.0.1"], "enabled": "false"}),
    ("cors", {**CORS, "log_violations": "yes"}),
    ("cors", {**CORS, "require_origin": 0}),
    ("injection_protection", {"content_to_check": ["body"], "action": "sanitize"}),
    ("injection_protection", {"content_to_check": ["body"], "status_code": 600}),
    ("code_sanitation", {"apply_all_languages": True, "content_to_check": [], "action": "block"}),
    ("prompt_moderation", {"keywords": ["bomb"], "actions": {"type": "block"}, "roles": []}),
    ("prompt_moderation", {"keywords": ["bomb"], "actions": {"type": "warn"}}),
]


@pytest.fixture
def catalogue(api) -> dict[str, dict]:
    response = api.get(URL)
    assert response.status_code == 200
    return {entry["name"]: entry for entry in response.json()}


def properties(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema in `schema`, nested objects and array items included."""
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}{name}", prop
        yield from properties(prop, f"{path}{name}.")
        if isinstance(prop.get("items"), dict):
            yield f"{path}{name}[]", prop["items"]
            yield from properties(prop["items"], f"{path}{name}[].")


def api_accepts(name: str, settings: dict[str, Any]) -> bool:
    stage = registry.get(name).allowed_stages[0]
    return PluginConfigSerializer(
        data={"name": name, "stage": stage, "settings": settings}
    ).is_valid()


def test_catalogue_needs_credentials(anonymous_api):
    response = anonymous_api.get(URL)
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication credentials were not provided."}


def test_catalogue_lists_every_registered_plugin(api):
    entries = api.get(URL).json()
    assert [entry["name"] for entry in entries] == registry.names()
    assert {"rate_limiter", "cors", "token_rate_limiter"} <= set(registry.names())
    for entry in entries:
        plugin = registry.get(entry["name"])
        assert set(entry) == {
            "id",
            "name",
            "label",
            "category",
            "description",
            "allowed_stages",
            "fixed_stages",
            "settings_schema",
        }
        assert entry["allowed_stages"] == list(plugin.allowed_stages)
        assert entry["fixed_stages"] == list(plugin.fixed_stages)
        assert entry["description"], entry["name"]


def test_entries_carry_trustgate_ids_labels_and_categories(catalogue):
    namespace = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")  # TrustGate's
    for name, entry in catalogue.items():
        assert entry["id"] == str(uuid.uuid5(namespace, name))
        assert entry["category"] in CATEGORIES
        assert entry["label"]
    assert catalogue["rate_limiter"]["id"] == "9a4b5991-69aa-542e-bf16-73115d3cc6b9"
    assert (catalogue["cors"]["label"], catalogue["cors"]["category"]) == (
        "CORS",
        "application_security",
    )
    assert catalogue["rate_limiter"]["category"] == "request_validation"


def test_a_plugin_without_a_category_stops_start_up(settings):
    settings.GATEWAY = {
        **settings.GATEWAY,
        "PLUGINS": ["tests.plugins.test_catalogue.UncategorisedPlugin"],
    }
    with pytest.raises(ImproperlyConfigured, match="category"):
        registry.load()
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


class UncategorisedPlugin(Plugin):
    name = "uncategorised"


def test_token_rate_limiter_runs_in_two_fixed_stages(catalogue):
    entry = catalogue["token_rate_limiter"]
    assert entry["fixed_stages"] == ["pre_request", "post_response"]


def test_rate_limiter_schema(catalogue):
    schema = catalogue["rate_limiter"]["settings_schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["limits"]
    assert schema["additionalProperties"] is False
    limits = schema["properties"]["limits"]
    assert set(limits["properties"]) == {"global", "per_ip", "per_user", "per_key", "per_tool"}
    per_ip = limits["properties"]["per_ip"]
    assert per_ip["required"] == ["limit", "window"]
    assert per_ip["properties"]["limit"] == {"type": "integer", "minimum": 1, "maximum": 10_000_000}
    assert per_ip["properties"]["window"]["type"] == "string"
    actions = schema["properties"]["actions"]["properties"]
    assert actions["type"] == {"enum": ["reject", "block"], "default": "reject"}
    assert schema["properties"]["fail_open"] == {"type": "boolean"}


def test_schemas_are_well_formed(catalogue):
    for name, entry in catalogue.items():
        schema = entry["settings_schema"]
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object", name
        for path, prop in [("", schema), *properties(schema)]:
            assert "type" in prop or "enum" in prop, (name, path, prop)
            if prop.get("type") == "object" and "properties" in prop:
                assert set(prop["required"]) <= set(prop["properties"]), (name, path)


def test_nullable_and_bounded_fields_say_so(catalogue):
    size = catalogue["request_size_limiter"]["settings_schema"]["properties"]
    assert size["max_chars_per_request"]["type"] == ["integer", "null"]
    assert size["size_unit"]["enum"] == ["bytes", "kilobytes", "megabytes"]
    cors = catalogue["cors"]["settings_schema"]["properties"]
    assert cors["allowed_origins"]["minItems"] == 1
    assert cors["max_age"]["type"] == ["integer", "string"]


@pytest.mark.parametrize(("name", "settings"), VALID)
def test_schema_accepts_what_the_api_accepts(catalogue, name, settings):
    assert api_accepts(name, settings)
    schema = catalogue[name]["settings_schema"]
    assert not list(Draft202012Validator(schema).iter_errors(settings))


@pytest.mark.parametrize(("name", "settings"), INVALID)
def test_api_refuses_what_the_schema_refuses(catalogue, name, settings):
    schema = catalogue[name]["settings_schema"]
    assert list(Draft202012Validator(schema).iter_errors(settings))
    assert not api_accepts(name, settings)


@pytest.mark.parametrize(("name", "settings"), VALID)
def test_stored_settings_match_the_schema(catalogue, name, settings):
    stored = registry.get(name).validated_settings(settings)
    schema = catalogue[name]["settings_schema"]
    assert not list(Draft202012Validator(schema).iter_errors(json.loads(json.dumps(stored))))
    assert registry.get(name).validated_settings(stored) == stored  # normalising is idempotent
