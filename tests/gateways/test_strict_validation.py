"""Strict admin bodies: unknown fields, JSON booleans, header and host syntax, service types.

Through the admin API and through the Django admin forms, which validate with the same
serializers.
"""

from __future__ import annotations

import json

import pytest

from gateways.models import Gateway, Rule, Service, Upstream
from plugins.models import PluginConfig
from tests.builders import in_process_post, routed_gateway
from tests.gateways.test_django_admin import form_errors, inline, plugin_row
from tests.gateways.test_routing_api import (
    HOST_TARGET,
    RATE_LIMITER,
    field_errors,
    gateway_url,
    make_gateway,
    make_rule,
    make_service,
    make_upstream,
)

pytestmark = pytest.mark.django_db

UNKNOWN = ["Unknown field."]
BAD_VALUES = ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00b", "a\x7fb"]
BAD_NAMES = ["X Bad", "X-Bad:", "X-Bad\r\n", "", "X-Ünicode", "(x)"]
UPSTREAM_REFUSAL = ["Not allowed for type 'upstream': set it on the upstream's targets."]


@pytest.fixture
def gateway(api) -> dict:
    return make_gateway(api)


# --- unknown fields ---


def test_unknown_gateway_field_is_refused(api):
    payload = {"name": "g", "subdomain": "g", "required_plugin": []}
    response = api.post("/api/v1/gateways", payload, format="json")
    assert field_errors(response, "required_plugin") == UNKNOWN
    assert not Gateway.objects.exists()


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        ("upstreams", {"name": "u", "targets": [HOST_TARGET], "target": []}, "target"),
        ("upstreams", {"name": "u", "targets": [{**HOST_TARGET, "hots": "x"}]}, "targets.0.hots"),
        (
            "upstreams",
            {"name": "u", "targets": [HOST_TARGET], "health_checks": {"treshold": 2}},
            "health_checks.treshold",
        ),
        ("services", {"name": "s", "type": "endpoint", "host": "h", "port": 1, "hst": 1}, "hst"),
        ("keys", {"name": "k", "expires": "2099-01-01T00:00:00Z"}, "expires"),
    ],
)
def test_unknown_fields_of_gateway_children_are_refused(api, gateway, kind, payload, field):
    response = api.post(gateway_url(gateway, kind), payload, format="json")
    assert field_errors(response, field) == UNKNOWN


def test_unknown_rule_field_is_refused_on_create_and_patch(api, gateway):
    service = make_service(api, gateway)
    payload = {"path": "/x", "methods": ["GET"], "service_id": service["id"], "pubic": True}
    response = api.post(gateway_url(gateway, "rules"), payload, format="json")
    assert field_errors(response, "pubic") == UNKNOWN
    rule = make_rule(api, gateway, service)
    url = gateway_url(gateway, "rules", rule["id"])
    response = api.patch(url, {"pubic": True}, format="json")
    assert field_errors(response, "pubic") == UNKNOWN
    assert Rule.objects.get().public is False


def test_a_body_read_with_get_can_be_sent_back(api, gateway):
    chain = [RATE_LIMITER]
    url = f"/api/v1/gateways/{gateway['id']}"
    assert api.patch(url, {"required_plugins": chain}, format="json").status_code == 200
    upstream = make_upstream(api, gateway, health_checks={"passive": True})
    service = make_service(api, gateway, credentials={"api_key": "sk-1"})
    rule = make_rule(api, gateway, service, plugin_chain=chain)
    for kind, body in (("upstreams", upstream), ("services", service), ("rules", rule)):
        url = gateway_url(gateway, kind, body["id"])
        response = api.put(url, api.get(url).json(), format="json")
        assert response.status_code == 200, (kind, response.json())
    url = f"/api/v1/gateways/{gateway['id']}"
    assert api.put(url, api.get(url).json(), format="json").status_code == 200


@pytest.mark.parametrize(("field", "value"), [("active", "false"), ("public", 1)])
def test_rule_booleans_must_be_json_booleans(api, gateway, field, value):
    service = make_service(api, gateway)
    payload = {"path": "/x", "methods": ["GET"], "service_id": service["id"], field: value}
    response = api.post(gateway_url(gateway, "rules"), payload, format="json")
    assert field_errors(response, field) == ["Must be a JSON boolean (true or false)."]


def test_health_check_switch_must_be_a_json_boolean(api, gateway):
    payload = {"name": "u", "targets": [HOST_TARGET], "health_checks": {"passive": "no"}}
    response = api.post(gateway_url(gateway, "upstreams"), payload, format="json")
    assert field_errors(response, "health_checks.passive")


# --- services of type upstream ---


@pytest.mark.parametrize(
    "extra",
    [
        {"path": "/base"},
        {"headers": {"X-Svc": "1"}},
        {"credentials": {"header_name": "X-Auth", "header_value": "s"}},
    ],
)
def test_upstream_service_refuses_endpoint_only_fields(api, gateway, extra):
    upstream = make_upstream(api, gateway)
    payload = {"name": "s", "type": "upstream", "upstream_id": upstream["id"], **extra}
    response = api.post(gateway_url(gateway, "services"), payload, format="json")
    (field,) = extra
    assert field_errors(response, field) == UPSTREAM_REFUSAL
    assert not Service.objects.exists()


def test_upstream_service_names_every_refused_field(api, gateway):
    upstream = make_upstream(api, gateway)
    payload = {
        "name": "s",
        "type": "upstream",
        "upstream_id": upstream["id"],
        "path": "/p",
        "headers": {"X-A": "1"},
    }
    response = api.post(gateway_url(gateway, "services"), payload, format="json")
    assert response.json()["fields"] == {"path": UPSTREAM_REFUSAL, "headers": UPSTREAM_REFUSAL}


def test_endpoint_service_switched_to_upstream_drops_endpoint_fields(api, gateway):
    upstream = make_upstream(api, gateway)
    service = make_service(
        api,
        gateway,
        path="/base",
        headers={"X-Svc": "1"},
        credentials={"header_name": "X-Auth", "header_value": "s"},
    )
    url = gateway_url(gateway, "services", service["id"])
    response = api.patch(url, {"type": "upstream", "upstream_id": upstream["id"]}, format="json")
    assert response.status_code == 200, response.json()
    stored = Service.objects.get()
    assert (stored.host, stored.port, stored.path) == ("", None, "")
    assert (stored.headers, stored.credentials) == ({}, {})


def test_admin_form_refuses_upstream_service_with_headers(admin_client, api, gateway):
    upstream = make_upstream(api, gateway)
    data = {
        "gateway": gateway["id"],
        "name": "direct",
        "type": "upstream",
        "upstream": upstream["id"],
        "host": "",
        "port": "",
        "protocol": "http",
        "path": "/base",
        "headers": '{"X-Svc": "1"}',
        "credentials": "{}",
        "tags": "[]",
        "retries": "0",
    }
    errors = form_errors(admin_client.post("/admin/gateways/service/add/", data))
    assert UPSTREAM_REFUSAL[0] in errors
    assert not Service.objects.exists()


# --- header syntax ---


@pytest.mark.parametrize("value", BAD_VALUES)
def test_rule_header_values_with_control_characters_are_refused(api, gateway, value):
    service = make_service(api, gateway)
    payload = {"path": "/x", "methods": ["GET"], "service_id": service["id"]}
    response = api.post(
        gateway_url(gateway, "rules"), {**payload, "headers": {"X-A": value}}, format="json"
    )
    assert field_errors(response, "headers.X-A")


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_header_names_are_refused_everywhere(api, gateway, name):
    service = make_service(api, gateway)
    rule = {"path": "/x", "methods": ["GET"], "service_id": service["id"], "headers": {name: "v"}}
    response = api.post(gateway_url(gateway, "rules"), rule, format="json")
    assert field_errors(response, f"headers.{name}")
    target = {**HOST_TARGET, "headers": {name: "v"}}
    response = api.post(
        gateway_url(gateway, "upstreams"), {"name": "u", "targets": [target]}, format="json"
    )
    assert field_errors(response, f"targets.0.headers.{name}")
    url = gateway_url(gateway, "services", service["id"])
    response = api.patch(url, {"headers": {name: "v"}}, format="json")
    assert field_errors(response, f"headers.{name}")


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({"header_name": "X Auth", "header_value": "s"}, "header_name"),
        ({"header_name": "X-Auth", "header_value": "s\r\nX-Admin: 1"}, "header_value"),
        ({"api_key": "sk-1\nX-Admin: 1"}, "api_key"),
    ],
)
def test_credential_headers_are_checked(api, gateway, credentials, field):
    response = api.post(
        gateway_url(gateway, "services"),
        {"name": "s", "type": "endpoint", "host": "h", "port": 80, "credentials": credentials},
        format="json",
    )
    assert field_errors(response, f"credentials.{field}")
    target = {**HOST_TARGET, "credentials": credentials}
    response = api.post(
        gateway_url(gateway, "upstreams"), {"name": "u", "targets": [target]}, format="json"
    )
    assert field_errors(response, f"targets.0.credentials.{field}")


def test_valid_headers_are_kept(api, gateway):
    service = make_service(api, gateway, headers={"X-Trace": "a b\tc", "Accept": "*/*"})
    assert service["headers"] == {"X-Trace": "a b\tc", "Accept": "*/*"}


def test_admin_form_refuses_a_rule_header_with_crlf(admin_client, api, gateway):
    service = make_service(api, gateway)
    data = {
        "gateway": gateway["id"],
        "service": service["id"],
        "path": "/v2/*",
        "methods": '["GET"]',
        "headers": json.dumps({"X-A": "a\r\nX-B: b"}),
        "retry_attempts": "0",
        "session_config": "{}",
        "active": "on",
        **inline("plugin_chain"),
    }
    errors = form_errors(admin_client.post("/admin/gateways/rule/add/", data))
    assert any(error.startswith("X-A: A header value cannot hold") for error in errors), errors
    assert not Rule.objects.exists()


# --- hosts, ports and base URLs ---


@pytest.mark.parametrize(
    "host",
    [
        "exa mple.com",
        "a_b.example",
        "-lead.example",
        "999.1.1.1",
        "http://example.com",
        "example.com:8080",
        "a..b",
        "x" * 64 + ".example",
        "h\r\nx",
    ],
)
def test_invalid_target_and_service_hosts_are_refused(api, gateway, host):
    response = api.post(
        gateway_url(gateway, "upstreams"),
        {"name": "u", "targets": [{"host": host, "port": 80}]},
        format="json",
    )
    assert field_errors(response, "targets.0.host")
    response = api.post(
        gateway_url(gateway, "services"),
        {"name": "s", "type": "endpoint", "host": host, "port": 80},
        format="json",
    )
    assert field_errors(response, "host")


@pytest.mark.parametrize(
    ("host", "stored"),
    [
        ("Backend.Example.COM.", "backend.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("10.0.0.1", "10.0.0.1"),
        ("localhost", "localhost"),
    ],
)
def test_hosts_are_stored_normalised(api, gateway, host, stored):
    upstream = make_upstream(api, gateway, targets=[{"host": host, "port": 80}])
    assert upstream["targets"][0]["host"] == stored
    service = make_service(api, gateway, host=host)
    assert service["host"] == stored


@pytest.mark.parametrize("port", [0, 65536, -1, "http"])
def test_ports_are_between_1_and_65535(api, gateway, port):
    response = api.post(
        gateway_url(gateway, "upstreams"),
        {"name": "u", "targets": [{"host": "h", "port": port}]},
        format="json",
    )
    assert field_errors(response, "targets.0.port")
    response = api.post(
        gateway_url(gateway, "services"),
        {"name": "s", "type": "endpoint", "host": "h", "port": port},
        format="json",
    )
    assert field_errors(response, "port")


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://api.example.com",
        "https://user:secret@api.example.com/v1",
        "https://api.example.com/v1#frag",
        "https://",
        "api.example.com",
        "https://bad_host.example",
    ],
)
def test_provider_base_url_is_http_with_a_host(api, gateway, base_url):
    target = {
        "provider": "openai",
        "base_url": base_url,
        "credentials": {"api_key": "sk-x"},
        "models": ["m"],
        "default_model": "m",
    }
    response = api.post(
        gateway_url(gateway, "upstreams"), {"name": "u", "targets": [target]}, format="json"
    )
    assert field_errors(response, "targets.0.base_url")
    assert not Upstream.objects.exists()


def test_admin_form_refuses_an_invalid_target_host(admin_client, gateway):
    data = {
        "gateway": gateway["id"],
        "name": "pool",
        "algorithm": "round-robin",
        "targets": json.dumps([{"host": "bad host", "port": 80}]),
        "health_checks": "{}",
        "tags": "[]",
    }
    errors = form_errors(admin_client.post("/admin/gateways/upstream/add/", data))
    assert any(error.startswith("0: host: 'bad host' is not a hostname") for error in errors)
    assert not Upstream.objects.exists()


# --- plugin rows in the Django admin ---


def add_gateway(admin_client, row: dict):
    data = {"name": "admin-made", "subdomain": "admin-made", "status": "active"}
    data.update(inline("required_plugins", row))
    return admin_client.post("/admin/gateways/gateway/add/", data)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"limits": {"per_ip": {"limit": 5, "window": "1m"}}, "fail_open": "false"},
            "fail_open: Must be a JSON boolean (true or false).",
        ),
        (
            {"limits": {"global": {"limit": 5, "window": "1m", "burst": 2}}},
            "limits: global: burst: Unknown field.",
        ),
    ],
)
def test_admin_inline_plugin_is_strict(admin_client, settings, message):
    errors = form_errors(add_gateway(admin_client, plugin_row(settings=settings)))
    assert message in errors
    assert not Gateway.objects.exists()


def test_admin_inline_plugin_settings_are_stored_normalised(admin_client):
    settings = {"limits": {"global": {"limit": "10", "window": "1M"}}}
    response = add_gateway(admin_client, plugin_row(settings=settings))
    assert response.status_code == 302, form_errors(response)
    assert PluginConfig.objects.get().settings == {
        "limits": {"global": {"limit": 10, "window": "1m"}}
    }


# --- a normalised host still routes ---


@pytest.mark.parametrize("spelling", ["::1", "[::1]", "0:0:0:0:0:0:0:1"])
def test_an_ipv6_target_is_reached_however_it_is_written(
    transactional_db, api, upstreams, proxy_client, spelling
):
    server = upstreams.start("::1")
    gateway = routed_gateway(
        in_process_post(api), subdomain="six", targets=[(spelling, server.port)]
    )
    assert gateway.upstream["targets"][0]["host"] == "::1"
    response = proxy_client.get("/x", HTTP_HOST="six.localhost", HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 200
    assert server.seen[-1].path == "/x"
