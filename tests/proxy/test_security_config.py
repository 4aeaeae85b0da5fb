"""A gateway's security_config (TrustGate E2, http_security_test.go): allowed hosts (403),
HTTPS redirect (301), the security headers; applied from the snapshot, validated when written."""

from __future__ import annotations

import json

import pytest

from tests.gateways.test_routing_api import field_errors

# TrustGate's payload (http_security_test.go), its hosts under our base domain.
TRUSTGATE_SECURITY = {
    "allowed_hosts": [r"^.*\.localhost"],
    "allowed_hosts_are_regex": True,
    "ssl_redirect": True,
    "ssl_host": "dev.neuraltrust.ai",
    "ssl_proxy_headers": {"X-Forwarded-Proto": "https"},
    "sts_seconds": 86400,
    "sts_include_subdomains": True,
    "frame_deny": True,
    "custom_frame_options_value": "",
    "referrer_policy": "no-referrer",
    "content_security_policy": "default-src 'self'; script-src 'self'; object-src 'none';",
    "content_type_nosniff": True,
    "browser_xss_filter": True,
    "is_development": False,
}


@pytest.fixture
def secured(route, api):
    """`secured(subdomain, security_config)`: a routed gateway with that security_config."""

    def build(subdomain: str, config: dict, **options):
        gateway = route(subdomain=subdomain, **options)
        url = f"/api/v1/gateways/{gateway.id}"
        response = api.put(url, {"security_config": config}, format="json")
        assert response.status_code == 200, response.json()
        return gateway

    return build


def get(client, gateway, path: str = "/security-test", host: str = "", **headers):
    host = host or f"{gateway.gateway['subdomain']}.localhost"
    return client.get(path, HTTP_HOST=host, HTTP_X_TG_API_KEY=gateway.key, **headers)


def test_trustgate_http_security_scenario(
    secured, upstream, proxy_client, django_assert_num_queries
):
    gateway = secured(
        "security",
        TRUSTGATE_SECURITY,
        path="/security-test",
        methods=("GET",),
        strip_path=True,
        upstream_extra={"path": "/__/ping"},
    )
    # "Valid Host with Secure Headers"
    secure = get(proxy_client, gateway, HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["X-Frame-Options"] == "DENY"
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert secure["X-XSS-Protection"] == "1; mode=block"
    assert secure["Referrer-Policy"] == "no-referrer"
    assert secure["Strict-Transport-Security"] == "max-age=86400; includeSubDomains"
    assert "default-src 'self'" in secure["Content-Security-Policy"]
    assert upstream.seen[-1].path == "/__/ping"
    # "Redirects HTTP to HTTPS": 301 to ssl_host (Go's client then followed it)
    plain = get(proxy_client, gateway, "/security-test?a=1")
    assert plain.status_code == 301
    assert plain["Location"] == "https://dev.neuraltrust.ai/security-test?a=1"
    assert len(upstream.seen) == 1
    with django_assert_num_queries(0):  # applied from the compiled snapshot
        assert get(proxy_client, gateway, HTTP_X_FORWARDED_PROTO="HTTPS").status_code == 200


def test_a_host_not_allowed_is_refused_before_the_key_and_the_upstream(
    secured, upstream, proxy_client
):
    gateway = secured("hosts", {"allowed_hosts": ["Other.localhost"]})
    refused = proxy_client.get("/x", HTTP_HOST="hosts.localhost")
    assert refused.status_code == 403
    assert json.loads(refused.content) == {"error": "forbidden: host not allowed"}
    assert "X-Frame-Options" not in refused
    assert upstream.seen == []
    allowed = secured("other", {"allowed_hosts": ["other.localhost"], "frame_deny": True})
    answer = get(proxy_client, allowed, "/x", host="other.localhost:8080")
    assert (answer.status_code, answer["X-Frame-Options"]) == (200, "DENY")
    assert get(proxy_client, gateway, "/x").status_code == 403


def test_a_regex_must_match_the_whole_host_name(secured, upstream, proxy_client):
    gateway = secured(
        "regex", {"allowed_hosts": [r"reg"], "allowed_hosts_are_regex": True}
    )  # found in `regex.localhost`, but not all of it
    assert get(proxy_client, gateway, "/x").status_code == 403


def test_development_mode_skips_the_host_check_and_the_redirect(secured, upstream, proxy_client):
    gateway = secured(
        "dev",
        {
            "allowed_hosts": ["prod.example.com"],
            "ssl_redirect": True,
            "sts_seconds": 60,
            "content_type_nosniff": True,
            "is_development": True,
        },
    )
    answer = get(proxy_client, gateway, "/x")
    assert answer.status_code == 200
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in answer  # never over plain HTTP


def test_the_redirect_keeps_the_host_name_without_ssl_host(secured, upstream, proxy_client):
    gateway = secured("redir", {"ssl_redirect": True, "frame_deny": True})
    answer = get(proxy_client, gateway, "/a/b?q=1", host="redir.localhost:8080")
    assert (answer.status_code, answer["Location"]) == (301, "https://redir.localhost/a/b?q=1")
    assert upstream.seen == []


def test_the_security_headers_override_the_upstreams_and_a_change_applies(
    secured, api, upstream, proxy_client
):
    gateway = secured("change", {"frame_deny": True, "custom_frame_options_value": "SAMEORIGIN"})
    assert get(proxy_client, gateway, "/x")["X-Frame-Options"] == "SAMEORIGIN"
    url = f"/api/v1/gateways/{gateway.id}"
    assert api.put(url, {"security_config": {}}, format="json").status_code == 200
    assert "X-Frame-Options" not in get(proxy_client, gateway, "/x")
    shown = api.get(url).json()["security_config"]
    assert (shown["frame_deny"], shown["allowed_hosts"]) == (False, [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "field"),
    [
        (
            {"allowed_hosts": ["(a"], "allowed_hosts_are_regex": True},
            "security_config.allowed_hosts.0",
        ),
        (
            {"allowed_hosts": [r"(a)\1"], "allowed_hosts_are_regex": True},
            "security_config.allowed_hosts.0",
        ),
        ({"ssl_host": "evil.example/phish"}, "security_config.ssl_host"),
        (
            {"content_security_policy": "a\r\nSet-Cookie: x=1"},
            "security_config.content_security_policy",
        ),
        (
            {"custom_frame_options_value": "DENY\nX: y"},
            "security_config.custom_frame_options_value",
        ),
        ({"referrer_policy": "sometimes"}, "security_config.referrer_policy"),
        ({"sts_seconds": -1}, "security_config.sts_seconds"),
        ({"frame_deny": "true"}, "security_config.frame_deny"),
        ({"ssl_proxy_headers": {"Bad Header": "https"}}, "security_config.ssl_proxy_headers"),
        ({"allowed_host": ["a.localhost"]}, "security_config.allowed_host"),
    ],
)
def test_invalid_security_config_is_400_naming_the_field(api, config, field):
    payload = {"name": "s", "subdomain": "sec", "security_config": config}
    assert field_errors(api.post("/api/v1/gateways", payload, format="json"), field)


@pytest.mark.django_db
def test_security_config_is_in_the_schema_and_the_django_admin(api, admin_client):
    schema = api.get("/api/v1/schema?format=json").json()["components"]["schemas"]
    fields = schema["SecurityConfig"]["properties"]
    assert {"allowed_hosts", "ssl_redirect", "sts_seconds", "is_development"} <= set(fields)
    assert "security_config" in schema["Gateway"]["properties"]
    data = {"name": "a", "subdomain": "adm", "status": "active", **EMPTY_INLINE}
    bad = {**data, "security_config": json.dumps({"referrer_policy": "sometimes"})}
    page = admin_client.post("/admin/gateways/gateway/add/", bad)
    assert page.status_code == 200  # the form again, with the serializer's error
    assert b"sometimes" in page.content
    good = {**data, "security_config": json.dumps({"frame_deny": True})}
    assert admin_client.post("/admin/gateways/gateway/add/", good).status_code == 302
    stored = api.get("/api/v1/gateways").json()["results"][0]["security_config"]
    assert (stored["frame_deny"], stored["sts_seconds"]) == (True, 0)  # normalised


EMPTY_INLINE = {
    "required_plugins-TOTAL_FORMS": "0",
    "required_plugins-INITIAL_FORMS": "0",
    "required_plugins-MIN_NUM_FORMS": "0",
    "required_plugins-MAX_NUM_FORMS": "1000",
}
