"""Guardrail settings at the admin edge: a 400 naming the field, endpoints checked against the
upstream deny list, secrets write-only (masked in the API and the Django admin, kept when the
mask is sent back)."""

from __future__ import annotations

import json

import pytest

from gateway_project.secret_masking import MASK
from plugins.models import PluginConfig
from tests.plugins.helpers import settings_errors

pytestmark = pytest.mark.django_db

OPENAI = {"openai_key": "sk-stored-secret", "thresholds": {"hate": 0.5}}
AZURE_TEXT = (
    "https://res.cognitiveservices.azure.com/contentsafety/text:analyze?api-version=2024-09-01"
)
AZURE = {"api_key": "azure-stored-secret", "endpoints": {"text": AZURE_TEXT}}
AWS = {"aws_access_key_id": "AKIDSTORED", "aws_secret_access_key": "aws-stored-secret"}
BEDROCK = {"guardrail_id": "g1", "region": "us-east-1", "credentials": AWS}
EXTERNAL = {
    "endpoint": "https://verdict.example/check",
    "headers": {"X-Token": "tok-stored"},
    "query_params": [{"name": "key", "value": "qp-stored"}],
}


@pytest.mark.parametrize(
    ("name", "settings", "errors"),
    [
        ("toxicity_openai", {}, {"openai_key": ["This field is required."]}),
        ("toxicity_openai", {**OPENAI, "thresholds": {"hat": 0.5}}, {"thresholds": {"hat": None}}),
        ("toxicity_openai", {**OPENAI, "thresholds": {"hate": 2}}, {"thresholds": {"hate": None}}),
        ("toxicity_openai", {**OPENAI, "timeout": "soon"}, {"timeout": None}),
        ("toxicity_openai", {**OPENAI, "on_error": "ignore"}, {"on_error": None}),
        ("toxicity_openai", {**OPENAI, "actions": {"type": "warn"}}, {"actions": {"type": None}}),
        (
            "toxicity_azure",
            {**AZURE, "category_severity": {"Hate": 3}},
            {"category_severity": {"Hate": None}},
        ),
        (
            "toxicity_azure",
            {**AZURE, "content_types": [{"type": "image", "path": "a.b"}]},
            {"endpoints": {"image": None}},
        ),
        ("bedrock_guardrail", {**BEDROCK, "region": "mars"}, {"region": None}),
        ("bedrock_guardrail", {**BEDROCK, "version": "v1"}, {"version": None}),
        (
            "bedrock_guardrail",
            {**BEDROCK, "credentials": {**AWS, "use_role": True}},
            {"credentials": {"use_role": ["TrustGate field not supported yet by this gateway."]}},
        ),
        (
            "external_api",
            {
                **EXTERNAL,
                "conditions": [{"field": "a", "operator": "like", "value": 1, "stop_flow": True}],
            },
            {"conditions": {"0": {"operator": None}}},
        ),
        (
            "external_api",
            {**EXTERNAL, "field_maps": [{"source": "a..b", "destination": "x"}]},
            {"field_maps": {"0": {"source": None}}},
        ),
        ("external_api", {**EXTERNAL, "endpoint": "ftp://x"}, {"endpoint": None}),
    ],
)
def test_invalid_settings_are_a_400_naming_the_field(create_gateway_with, name, settings, errors):
    found = settings_errors(create_gateway_with(name, settings))
    assert_names(found, errors)
    assert not PluginConfig.objects.exists()


def assert_names(found, expected) -> None:
    """`found` has exactly the keys of `expected`, down to its leaves (None: any message)."""
    assert set(found) == set(expected), found
    for key, value in expected.items():
        if isinstance(value, dict):
            assert_names(found[key], value)
        elif value is not None:
            assert found[key] == value


@pytest.mark.parametrize(
    ("name", "plugin_settings", "field"),
    [
        ("external_api", {**EXTERNAL, "endpoint": "http://169.254.169.254/latest"}, "endpoint"),
        ("toxicity_openai", {**OPENAI, "base_url": "http://169.254.169.254"}, "base_url"),
        ("bedrock_guardrail", {**BEDROCK, "endpoint": "http://169.254.169.254"}, "endpoint"),
    ],
)
def test_endpoints_in_a_denied_network_are_refused_when_written(
    create_gateway_with, settings, name, plugin_settings, field
):
    settings.GATEWAY = {**settings.GATEWAY, "UPSTREAM_DENY": ["169.254.0.0/16"]}
    errors = settings_errors(create_gateway_with(name, plugin_settings))
    assert "GATEWAY_UPSTREAM_DENY" in errors[field][0]


@pytest.fixture
def settings_for():
    return {
        "toxicity_openai": (OPENAI, [("openai_key",)]),
        "toxicity_azure": (AZURE, [("api_key",)]),
        "bedrock_guardrail": (
            BEDROCK,
            [("credentials", "aws_access_key_id"), ("credentials", "aws_secret_access_key")],
        ),
        "external_api": (EXTERNAL, [("headers", "X-Token"), ("query_params", 0, "value")]),
    }


def at(settings: dict, path: tuple[str | int, ...]):
    for step in path:
        settings = settings[step]
    return settings


@pytest.mark.parametrize(
    "name", ["toxicity_openai", "toxicity_azure", "bedrock_guardrail", "external_api"]
)
def test_secrets_are_masked_in_get_and_kept_when_the_mask_is_sent_back(
    api, create_gateway_with, settings_for, name
):
    settings, secrets = settings_for[name]
    created = create_gateway_with(name, settings)
    assert created.status_code == 201, created.json()
    shown = api.get(f"/api/v1/gateways/{created.json()['id']}").json()
    for body in (created.json(), shown):
        plugin_settings = body["required_plugins"][0]["settings"]
        assert [at(plugin_settings, path) for path in secrets] == [MASK] * len(secrets)
    assert "stored" not in json.dumps(shown)  # no secret in the answer at all
    shown.pop("id")
    renamed = {**shown, "name": "renamed"}
    put = api.put(f"/api/v1/gateways/{created.json()['id']}", renamed, format="json")
    assert put.status_code == 200, put.json()
    stored = PluginConfig.objects.get().settings
    assert [at(stored, path) for path in secrets] == [at(settings, path) for path in secrets]


def test_a_mask_with_no_stored_secret_is_refused(create_gateway_with):
    errors = settings_errors(create_gateway_with("toxicity_openai", {**OPENAI, "openai_key": MASK}))
    assert errors == {
        "openai_key": [f"{MASK!r} is the mask of a stored secret; send the secret itself."]
    }


def test_a_new_secret_replaces_the_stored_one(api, create_gateway_with):
    gateway = create_gateway_with("toxicity_openai", OPENAI).json()
    gateway["required_plugins"][0]["settings"]["openai_key"] = "sk-new"
    gateway_id = gateway.pop("id")
    assert api.put(f"/api/v1/gateways/{gateway_id}", gateway, format="json").status_code == 200
    assert PluginConfig.objects.get().settings["openai_key"] == "sk-new"


def test_plugins_endpoint_keeps_masked_secrets_on_edit_and_refuses_them_on_add(
    api, create_gateway_with
):
    gateway = create_gateway_with("toxicity_openai", OPENAI).json()
    owner = {"type": "gateway", "id": gateway["id"]}
    edited = {**gateway["required_plugins"][0], "priority": 7}
    edited.pop("id")
    response = api.put(
        "/api/v1/plugins",
        {**owner, "updates": [{"operation": "edit", "plugin": edited}]},
        format="json",
    )
    assert response.status_code == 204, response.content
    stored = PluginConfig.objects.get()
    assert (stored.priority, stored.settings["openai_key"]) == (7, OPENAI["openai_key"])
    new = {"name": "toxicity_azure", "stage": "pre_request", "settings": {**AZURE, "api_key": MASK}}
    refused = api.post("/api/v1/plugins", {**owner, "plugins": [new]}, format="json")
    assert refused.status_code == 400
    assert "api_key" in refused.json()["fields"]["plugins"]["0"]["settings"]


def test_django_admin_masks_plugin_secrets_and_keeps_them_when_saved_unchanged(
    admin_client, create_gateway_with
):
    gateway_body = create_gateway_with("bedrock_guardrail", BEDROCK).json()
    page = admin_client.get(f"/admin/gateways/gateway/{gateway_body['id']}/change/")
    assert page.status_code == 200
    assert b"aws-stored-secret" not in page.content
    assert b"AKIDSTORED" not in page.content
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    formset = page.context["inline_admin_formsets"][0].formset
    data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
    row = formset.forms[0]
    for name in row.fields:
        value = row[name].value()
        if value is not None:
            data[f"{row.prefix}-{name}"] = value
    data["name"] = "renamed"
    saved = admin_client.post(f"/admin/gateways/gateway/{gateway_body['id']}/change/", data)
    assert saved.status_code == 302, saved.content[:2000]
    assert PluginConfig.objects.get().settings["credentials"] == AWS
