"""The Django admin, through its real forms: pages, inline plugins, API keys, API validation."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from gateways.models import Gateway, Rule, Service, Upstream
from keys.models import ApiKey
from keys.services import api_key_create
from plugins.models import PluginConfig

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r"gk_[A-Za-z0-9_-]{43}")
LIMITS = {"limits": {"per_ip": {"limit": 5, "window": "1m"}}}
NO_LIMIT = "limits: Configure at least one of global, per_ip, per_user, per_key, per_tool."


@pytest.fixture
def routing() -> dict:
    """A gateway with an upstream, a service on it, a rule, a gateway plugin and a key."""
    gateway = Gateway.objects.create(name="g", subdomain="g")
    upstream = Upstream.objects.create(
        gateway=gateway, name="u", targets=[{"host": "10.0.0.1", "port": 80}]
    )
    service = Service.objects.create(gateway=gateway, name="s", type="upstream", upstream=upstream)
    rule = Rule.objects.create(gateway=gateway, service=service, path="/v1/*", methods=["GET"])
    PluginConfig.objects.create(
        gateway=gateway, name="rate_limiter", stage="pre_request", settings=LIMITS
    )
    api_key, _ = api_key_create(gateway=gateway, name="k")
    return {
        "gateway": gateway,
        "upstream": upstream,
        "service": service,
        "rule": rule,
        "apikey": api_key,
    }


def inline(prefix: str, *rows: dict, initial: int = 0) -> dict:
    """The POST data of an inline formset: management form plus one entry per row."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{field}": value for field, value in row.items()})
    return data


def plugin_row(name: str = "rate_limiter", stage: str = "pre_request", settings=None) -> dict:
    return {
        "name": name,
        "stage": stage,
        "enabled": "on",
        "priority": "0",
        "position": "0",
        "settings": json.dumps(LIMITS if settings is None else settings),
    }


def add_gateway(admin_client, *plugins: dict):
    data = {"name": "admin-made", "subdomain": "admin-made", "status": "active"}
    data.update(inline("required_plugins", *plugins))
    return admin_client.post("/admin/gateways/gateway/add/", data)


def form_errors(response) -> list[str]:
    """The error messages an admin form page shows (field, non-field and formset errors)."""
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    items = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    return [re.sub(r"<[^>]+>", " ", item).replace("&#x27;", "'").strip() for item in items]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- pages ---


@pytest.mark.parametrize(
    "model",
    [
        "gateways/gateway",
        "gateways/upstream",
        "gateways/service",
        "gateways/rule",
        "keys/apikey",
        "keys/admintoken",
    ],
)
def test_changelist_pages_load(admin_client, routing, admin_token, model):
    response = admin_client.get(f"/admin/{model}/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize(
    "model", ["gateways/gateway", "gateways/upstream", "gateways/service", "gateways/rule"]
)
def test_add_and_change_pages_load(admin_client, routing, model):
    assert admin_client.get(f"/admin/{model}/add/").status_code == 200
    obj = routing[model.split("/")[1]]
    assert admin_client.get(f"/admin/{model}/{obj.pk}/change/").status_code == 200


def test_api_key_pages_load_without_the_secret(admin_client, routing):
    assert admin_client.get("/admin/keys/apikey/add/").status_code == 200
    change = admin_client.get(f"/admin/keys/apikey/{routing['apikey'].pk}/change/")
    assert change.status_code == 200
    assert routing["apikey"].key_hash.encode() not in change.content


def test_admin_tokens_are_not_added_through_the_admin(admin_client, admin_token):
    """Admin tokens come from `manage.py create_admin_token`, which prints the secret once."""
    assert admin_client.get("/admin/keys/admintoken/add/").status_code == 403
    assert admin_client.get("/admin/keys/admintoken/").status_code == 200


def test_admin_needs_a_staff_login(client, routing):
    response = client.get("/admin/gateways/gateway/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- gateway plugins inline ---


def test_inline_plugin_with_invalid_settings_saves_nothing(admin_client):
    response = add_gateway(admin_client, plugin_row(settings={"limits": {}}))
    assert NO_LIMIT in form_errors(response)
    assert not Gateway.objects.exists()
    assert not PluginConfig.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (plugin_row(name="nope"), "Unknown plugin 'nope'."),
        (plugin_row(settings={"limits": LIMITS["limits"], "burst": 3}), "burst: Unknown setting."),
        (
            plugin_row(settings={"limits": {"per_ip": {"limit": 0, "window": "1m"}}}),
            "limits: per_ip: limit: Ensure this value is greater than or equal to 1.",
        ),
        (plugin_row(stage="someday"), "Select a valid choice."),
        ({**plugin_row(), "settings": "{not json"}, "Enter a valid JSON."),
    ],
)
def test_inline_plugin_errors_are_readable(admin_client, row, message):
    errors = form_errors(add_gateway(admin_client, row))
    assert any(error.startswith(message) for error in errors), errors
    assert not any("ErrorDetail" in error for error in errors), errors
    assert not Gateway.objects.exists()


def test_the_same_plugin_twice_in_a_stage_is_refused(admin_client):
    response = add_gateway(admin_client, plugin_row(), plugin_row())
    assert "Plugin 'rate_limiter' appears twice in stage 'pre_request'." in form_errors(response)
    assert not Gateway.objects.exists()


def test_valid_inline_plugin_is_saved(admin_client):
    response = add_gateway(admin_client, plugin_row())
    assert response.status_code == 302, form_errors(response)
    gateway = Gateway.objects.get(subdomain="admin-made")
    plugin = PluginConfig.objects.get(gateway=gateway)
    assert (plugin.name, plugin.stage, plugin.enabled, plugin.settings) == (
        "rate_limiter",
        "pre_request",
        True,
        LIMITS,
    )


def test_rule_plugin_chain_is_edited_inline(admin_client, routing):
    rule = routing["rule"]
    data = {
        "gateway": routing["gateway"].pk,
        "service": routing["service"].pk,
        "path": "/v1/*",
        "methods": '["GET"]',
        "headers": "{}",
        "retry_attempts": "0",
        "session_config": "{}",
        "active": "on",
    }
    data.update(inline("plugin_chain", plugin_row(settings={"limits": {}})))
    invalid = admin_client.post(f"/admin/gateways/rule/{rule.pk}/change/", data)
    assert NO_LIMIT in form_errors(invalid)
    assert not PluginConfig.objects.filter(rule=rule).exists()

    data.update(inline("plugin_chain", plugin_row()))
    valid = admin_client.post(f"/admin/gateways/rule/{rule.pk}/change/", data)
    assert valid.status_code == 302, form_errors(valid)
    assert PluginConfig.objects.get(rule=rule).settings == LIMITS


# --- routing objects are validated like the API ---


def upstream_data(gateway: Gateway, targets) -> dict:
    return {
        "gateway": gateway.pk,
        "name": "pool",
        "algorithm": "round-robin",
        "targets": json.dumps(targets),
        "health_checks": "{}",
        "websocket_config": "{}",
        "tags": "[]",
    }


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([], "This field is required."),
        ({"host": "h"}, "Expected a list of items"),
        ([{"port": 80}], "0: host: A target needs either a host or a provider."),
        ([{"host": "h", "port": 0}], "0: port: Ensure this value is greater than or equal to 1."),
        ([{"provider": "openai", "models": ["m"], "default_model": "m"}], "0: credentials:"),
    ],
)
def test_invalid_upstream_targets_are_refused(admin_client, routing, targets, message):
    data = upstream_data(routing["gateway"], targets)
    errors = form_errors(admin_client.post("/admin/gateways/upstream/add/", data))
    assert any(error.startswith(message) for error in errors), errors
    assert Upstream.objects.count() == 1


def test_upstream_targets_are_normalised_like_the_api(admin_client, routing):
    data = upstream_data(routing["gateway"], [{"host": "h", "protocol": "https"}])
    response = admin_client.post("/admin/gateways/upstream/add/", data)
    assert response.status_code == 302, form_errors(response)
    upstream = Upstream.objects.get(name="pool")
    assert upstream.targets == [
        {
            "host": "h",
            "port": 443,
            "protocol": "https",
            "path": "",
            "weight": 1,
            "priority": 0,
            "headers": {},
        }
    ]


def rule_data(routing: dict, **changes) -> dict:
    data = {
        "gateway": routing["gateway"].pk,
        "service": routing["service"].pk,
        "path": "/v2/{id}",
        "methods": '["get"]',
        "headers": "{}",
        "retry_attempts": "0",
        "session_config": "{}",
        "active": "on",
    }
    data.update(changes)
    data.update(inline("plugin_chain"))
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"path": "/a/*/b"}, "Invalid path segment '*'"),
        ({"path": "v2"}, "The path must start with '/'."),
        ({"methods": '["FETCH"]'}, "Invalid methods: FETCH."),
        ({"path": "/v1/*"}, "An active rule already routes GET /v1/* to this service"),
    ],
)
def test_invalid_rules_are_refused(admin_client, routing, changes, message):
    response = admin_client.post("/admin/gateways/rule/add/", rule_data(routing, **changes))
    errors = form_errors(response)
    assert any(error.startswith(message) for error in errors), errors
    assert Rule.objects.count() == 1


def test_rule_cannot_use_a_service_of_another_gateway(admin_client, routing):
    other = Gateway.objects.create(name="o", subdomain="o")
    response = admin_client.post("/admin/gateways/rule/add/", rule_data(routing, gateway=other.pk))
    assert "No such service in this gateway." in form_errors(response)
    assert not Rule.objects.filter(gateway=other).exists()


def test_valid_rule_is_saved_normalised(admin_client, routing):
    response = admin_client.post("/admin/gateways/rule/add/", rule_data(routing))
    assert response.status_code == 302, form_errors(response)
    assert Rule.objects.get(path="/v2/{id}").methods == ["GET"]


def service_data(routing: dict, **changes) -> dict:
    data = {
        "gateway": routing["gateway"].pk,
        "name": "direct",
        "type": "endpoint",
        "host": "10.0.0.9",
        "port": "8000",
        "protocol": "http",
        "headers": "{}",
        "credentials": "{}",
        "tags": "[]",
        "retries": "0",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"host": ""}, "Required for type 'endpoint'."),
        ({"type": "upstream", "host": "", "port": ""}, "Required for type 'upstream'."),
        ({"name": "s"}, "A service with this name exists in this gateway."),
        ({"credentials": '{"header_name": "X-Auth"}'}, "header_value: header_name and"),
    ],
)
def test_invalid_services_are_refused(admin_client, routing, changes, message):
    response = admin_client.post("/admin/gateways/service/add/", service_data(routing, **changes))
    errors = form_errors(response)
    assert any(error.startswith(message) for error in errors), errors
    assert Service.objects.count() == 1


def test_service_cannot_use_an_upstream_of_another_gateway(admin_client, routing):
    other = Gateway.objects.create(name="o", subdomain="o")
    data = service_data(
        routing, gateway=other.pk, type="upstream", upstream=routing["upstream"].pk, host=""
    )
    data["port"] = ""
    response = admin_client.post("/admin/gateways/service/add/", data)
    assert "No such upstream in this gateway." in form_errors(response)
    assert not Service.objects.filter(gateway=other).exists()


def test_valid_endpoint_service_is_saved(admin_client, routing):
    response = admin_client.post("/admin/gateways/service/add/", service_data(routing))
    assert response.status_code == 302, form_errors(response)
    service = Service.objects.get(name="direct")
    assert (service.host, service.port, service.upstream_id) == ("10.0.0.9", 8000, None)


def change_form_data(response) -> dict:
    """The POST data of a change page as the browser would send it unedited."""
    form = response.context["adminform"].form
    return {name: form[name].value() for name in form.fields if form[name].value() is not None}


def test_service_secrets_are_masked_and_kept_when_saved_unchanged(admin_client, routing):
    service = Service.objects.create(
        gateway=routing["gateway"],
        name="secret",
        type="endpoint",
        host="10.0.0.9",
        port=80,
        credentials={"header_name": "X-Auth", "header_value": "s3cret-value"},
    )
    page = admin_client.get(f"/admin/gateways/service/{service.pk}/change/")
    assert b"s3cret-value" not in page.content
    assert b"********" in page.content
    data = change_form_data(page) | {"gateway": routing["gateway"].pk, "name": "renamed"}
    saved = admin_client.post(f"/admin/gateways/service/{service.pk}/change/", data)
    assert saved.status_code == 302, form_errors(saved)
    service.refresh_from_db()
    assert service.name == "renamed"
    assert service.credentials["header_value"] == "s3cret-value"


def test_upstream_target_secrets_are_masked_and_replaceable(admin_client, routing):
    upstream = routing["upstream"]
    upstream.targets = [
        {
            "provider": "openai",
            "models": ["m"],
            "default_model": "m",
            "credentials": {"api_key": "sk-stored"},
        }
    ]
    upstream.save()
    page = admin_client.get(f"/admin/gateways/upstream/{upstream.pk}/change/")
    assert b"sk-stored" not in page.content
    data = change_form_data(page) | {"gateway": routing["gateway"].pk}
    kept = admin_client.post(f"/admin/gateways/upstream/{upstream.pk}/change/", data)
    assert kept.status_code == 302, form_errors(kept)
    upstream.refresh_from_db()
    assert upstream.targets[0]["credentials"]["api_key"] == "sk-stored"
    replaced = json.loads(data["targets"])  # the form shows JSON text, masks included
    replaced[0]["credentials"]["api_key"] = "sk-new"
    data["targets"] = json.dumps(replaced)
    admin_client.post(f"/admin/gateways/upstream/{upstream.pk}/change/", data)
    upstream.refresh_from_db()
    assert upstream.targets[0]["credentials"]["api_key"] == "sk-new"


# --- API keys ---


def test_new_api_key_secret_is_shown_once_and_stored_hashed(admin_client, routing):
    response = admin_client.post(
        "/admin/keys/apikey/add/",
        {"gateway": routing["gateway"].pk, "name": "from-admin", "expires_at_0": "", "_save": "1"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [SECRET_RE.search(message) for message in messages_of(response)]
    secrets = [match.group(0) for match in shown if match]
    assert len(secrets) == 1, messages_of(response)
    secret = secrets[0]

    api_key = ApiKey.objects.get(name="from-admin")
    assert api_key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert api_key.prefix == secret[:10]
    assert api_key.expires_at is None
    assert secret not in json.dumps({k: str(v) for k, v in api_key.__dict__.items()})

    again = admin_client.get(f"/admin/keys/apikey/{api_key.pk}/change/")
    assert secret.encode() not in again.content
    assert messages_of(again) == []


def test_rotate_action_changes_the_hash(admin_client, routing):
    api_key = routing["apikey"]
    old_hash = api_key.key_hash
    response = admin_client.post(
        "/admin/keys/apikey/",
        {"action": "rotate_selected", "_selected_action": [str(api_key.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    secrets = [m.group(0) for m in map(SECRET_RE.search, messages_of(response)) if m]
    assert len(secrets) == 1

    api_key.refresh_from_db()
    assert api_key.key_hash != old_hash
    assert api_key.key_hash == hashlib.sha256(secrets[0].encode()).hexdigest()
    assert api_key.prefix == secrets[0][:10]
    assert api_key.rotated_at is not None
