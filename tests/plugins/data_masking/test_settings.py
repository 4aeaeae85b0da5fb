"""data_masking settings: strict validation at write time (400 naming the field), and the
reversible-hashing secret write-only in the admin API and the Django admin."""

from __future__ import annotations

import json

import pytest

from gateway_project.secret_masking import MASK
from gateways.models import Gateway
from plugins.models import PluginConfig
from tests.plugins.helpers import settings_errors

SECRET = "a-long-enough-hmac-secret"
EMAIL = [{"entity": "email"}]


def reversible(secret: str = SECRET, **settings) -> dict:
    return {
        "predefined_entities": EMAIL,
        "reversible_hashing": {"enabled": True, "secret": secret},
        **settings,
    }


@pytest.mark.parametrize(
    ("settings", "path", "message"),
    [
        ({}, ["predefined_entities"], "at least one"),
        (
            {"predefined_entities": [{"entity": "email", "enabled": False}]},
            ["predefined_entities"],
            "at least one",
        ),
        (
            {"predefined_entities": [{"entity": "shoe_size"}]},
            ["predefined_entities", "0", "entity"],
            "not a valid choice",
        ),
        ({"apply_all": True, "fail_open": True}, ["fail_open"], "always fails closed"),
        ({"apply_all": True, "mask": "x"}, ["mask"], "Unknown setting"),
        (
            {"rules": [{"pattern": "(a+)+\\1", "type": "regex", "mask_with": "x"}]},
            ["rules", "0", "pattern"],
            "RE2",
        ),
        (
            {"rules": [{"pattern": "(?=lookahead)", "type": "regex", "mask_with": "x"}]},
            ["rules", "0", "pattern"],
            "RE2",
        ),
        (
            {"rules": [{"pattern": "a*", "type": "regex", "mask_with": "x"}]},
            ["rules", "0", "pattern"],
            "empty string",
        ),
        ({"rules": [{"pattern": "x", "type": "keyword"}]}, ["rules", "0", "mask_with"], "required"),
        (
            {"rules": [{"pattern": "x", "type": "glob", "mask_with": "*"}]},
            ["rules", "0", "type"],
            "valid choice",
        ),
        (
            {"apply_all": True, "reversible_hashing": {"enabled": True}},
            ["reversible_hashing", "secret"],
            "Required when enabled",
        ),
        (reversible("short"), ["reversible_hashing", "secret"], "at least 16"),
        ({"apply_all": True, "similarity_threshold": 1.5}, ["similarity_threshold"], "less than"),
        (
            {"predefined_entities": [{"entity": "email"}, {"entity": "email"}]},
            ["predefined_entities"],
            "twice",
        ),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(
    create_gateway_with, settings, path, message
):
    errors = settings_errors(create_gateway_with("data_masking", settings))
    for key in path:
        errors = errors[key]
    assert message in json.dumps(errors)


def test_stages_are_pre_request_and_post_response(create_gateway_with):
    response = create_gateway_with("data_masking", {"apply_all": True}, stage="post_request")
    assert response.status_code == 400
    assert "post_request" in json.dumps(response.json())


def test_one_instance_per_stage(api):
    plugin = {"name": "data_masking", "settings": {"apply_all": True}}
    chain = [{**plugin, "stage": "pre_request"}, {**plugin, "stage": "post_response"}]
    payload = {"name": "two", "subdomain": "two", "required_plugins": chain}
    assert api.post("/api/v1/gateways", payload, format="json").status_code == 201
    payload = {"name": "three", "subdomain": "three", "required_plugins": [*chain, chain[0]]}
    assert api.post("/api/v1/gateways", payload, format="json").status_code == 400


def stored_secret(gateway_id: str) -> str:
    config = PluginConfig.objects.get(gateway_id=gateway_id)
    return config.settings["reversible_hashing"]["secret"]


def test_the_secret_is_write_only_and_a_mask_sent_back_keeps_it(api, create_gateway_with):
    created = create_gateway_with("data_masking", reversible())
    assert created.status_code == 201, created.json()
    shown = created.json()["required_plugins"][0]["settings"]["reversible_hashing"]
    assert shown == {"enabled": True, "secret": MASK}
    gateway = api.get(f"/api/v1/gateways/{created.json()['id']}").json()
    assert SECRET not in json.dumps(gateway)
    gateway["required_plugins"][0]["settings"]["apply_all"] = True
    put = api.put(f"/api/v1/gateways/{gateway['id']}", gateway, format="json")
    assert put.status_code == 200, put.json()
    assert stored_secret(gateway["id"]) == SECRET
    assert PluginConfig.objects.get(gateway_id=gateway["id"]).settings["apply_all"] is True


def test_a_new_secret_replaces_the_stored_one(api, create_gateway_with):
    gateway = create_gateway_with("data_masking", reversible()).json()
    gateway["required_plugins"][0]["settings"]["reversible_hashing"]["secret"] = (
        "another-secret-16+"
    )
    assert api.put(f"/api/v1/gateways/{gateway['id']}", gateway, format="json").status_code == 200
    assert stored_secret(gateway["id"]) == "another-secret-16+"


def test_a_mask_with_no_stored_secret_is_refused(api, create_gateway_with):
    errors = settings_errors(create_gateway_with("data_masking", reversible(MASK)))
    assert "mask of a stored secret" in errors["reversible_hashing.secret"][0]
    gateway = create_gateway_with("data_masking", {"apply_all": True}).json()
    response = api.post(
        "/api/v1/plugins",
        {
            "type": "gateway",
            "id": gateway["id"],
            "plugins": [
                {"name": "data_masking", "stage": "post_response", "settings": reversible(MASK)}
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "mask of a stored secret" in json.dumps(response.json())


@pytest.mark.django_db
def test_the_django_admin_shows_the_secret_masked_and_keeps_it(admin_client):
    gateway = Gateway.objects.create(name="g", subdomain="g")
    config = PluginConfig.objects.create(
        gateway=gateway, name="data_masking", stage="pre_request", settings=reversible()
    )
    page = admin_client.get(f"/admin/gateways/gateway/{gateway.pk}/change/")
    assert SECRET.encode() not in page.content
    assert MASK.encode() in page.content
    inline = page.context["inline_admin_formsets"][0].formset.forms[0]
    data = {
        "name": "g",
        "subdomain": "g",
        "status": "active",
        "required_plugins-TOTAL_FORMS": "1",
        "required_plugins-INITIAL_FORMS": "1",
        "required_plugins-MIN_NUM_FORMS": "0",
        "required_plugins-MAX_NUM_FORMS": "1000",
    }
    for name in inline.fields:
        value = inline[name].value()
        if value is not None and value is not False:
            data[f"required_plugins-0-{name}"] = "on" if value is True else value
    saved = admin_client.post(f"/admin/gateways/gateway/{gateway.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    config.refresh_from_db()
    assert config.settings["reversible_hashing"]["secret"] == SECRET
