"""cors: settings validation, headers for allowed origins, preflights answered by the gateway."""

from __future__ import annotations

import logging

import pytest

from plugins.sdk.context import PluginRejection, PluginResponse, RequestContext
from tests.plugins.helpers import make_plugin, make_request, settings_errors

APP = "https://app.example.com"
SETTINGS = {
    "allowed_origins": [APP, "http://localhost:3000"],
    "allowed_methods": ["GET", "POST"],
    "allow_credentials": True,
    "expose_headers": ["x-ratelimit-remaining-tokens"],
    "max_age": "10m",
}


def run(settings: dict, method: str = "GET", **headers: str) -> RequestContext:
    """Run the plugin's pre_request on a request with the given headers (underscores = dashes)."""
    request = make_request(
        method=method, headers={name.replace("_", "-"): value for name, value in headers.items()}
    )
    make_plugin("cors", settings).pre_request(request)
    return request


def refused(settings: dict, method: str = "GET", **headers: str) -> PluginRejection:
    with pytest.raises(PluginRejection) as caught:
        run(settings, method, **headers)
    return caught.value


def answered(settings: dict, **headers: str) -> tuple[PluginResponse, RequestContext]:
    """Run the plugin's pre_auth step on a preflight; returns its answer and the request."""
    request = make_request(
        method="OPTIONS",
        headers={name.replace("_", "-"): value for name, value in headers.items()},
    )
    with pytest.raises(PluginResponse) as caught:
        make_plugin("cors", settings).pre_auth(request)
    return caught.value, request


@pytest.mark.django_db
@pytest.mark.parametrize(
    "settings",
    [
        SETTINGS,
        {"allowed_origins": ["*"], "allowed_methods": ["get", "Post"], "max_age": 600},
        {"allowed_origins": ["https://[2001:db8::1]:8443"], "allowed_methods": ["DELETE"]},
        {"allowed_origins": [APP], "allowed_methods": ["GET"], "allowed_headers": ["*"]},
        {**SETTINGS, "log_violations": True, "require_origin": True, "max_age": "600s"},
    ],
)
def test_valid_settings_are_accepted(create_gateway_with, settings):
    response = create_gateway_with("cors", settings)
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"allowed_methods": ["GET"]}, "allowed_origins"),
        ({"allowed_origins": [], "allowed_methods": ["GET"]}, "allowed_origins"),
        ({"allowed_origins": ["app.example.com"], "allowed_methods": ["GET"]}, "allowed_origins"),
        ({"allowed_origins": ["ftp://x.example"], "allowed_methods": ["GET"]}, "allowed_origins"),
        ({"allowed_origins": [f"{APP}/path"], "allowed_methods": ["GET"]}, "allowed_origins"),
        ({"allowed_origins": [APP]}, "allowed_methods"),
        ({**SETTINGS, "log_violations": "true"}, "log_violations"),
        ({**SETTINGS, "require_origin": 1}, "require_origin"),
        ({**SETTINGS, "log_violation": True}, "log_violation"),
        ({"allowed_origins": [APP], "allowed_methods": ["FETCH"]}, "allowed_methods"),
        (
            {
                "allowed_origins": [APP],
                "allowed_methods": ["GET"],
                "allowed_headers": ["bad header"],
            },
            "allowed_headers",
        ),
        (
            {"allowed_origins": ["*"], "allowed_methods": ["GET"], "allow_credentials": True},
            "allow_credentials",
        ),
        ({"allowed_origins": [APP], "allowed_methods": ["GET"], "max_age": "soon"}, "max_age"),
        ({"allowed_origins": [APP], "allowed_methods": ["GET"], "max_age": "1500ms"}, "max_age"),
        ({"allowed_origins": [APP], "allowed_methods": ["GET"], "max_age": -1}, "max_age"),
        (
            {"allowed_origins": [APP], "allowed_methods": ["GET"], "log_violations": 1},
            "log_violations",
        ),
    ],
)
def test_invalid_settings_are_a_400_naming_the_field(create_gateway_with, settings, field):
    assert field in settings_errors(create_gateway_with("cors", settings))


@pytest.mark.django_db
def test_an_invalid_origin_is_named_by_its_index(create_gateway_with):
    settings = {"allowed_origins": [APP, "https://ok.example", "nope"], "allowed_methods": ["GET"]}
    errors = settings_errors(create_gateway_with("cors", settings))
    assert list(errors["allowed_origins"]) == ["2"]


def test_requests_without_origin_pass_untouched():
    request = run(SETTINGS, "POST")
    assert request.response_headers == {}


def test_allowed_origin_gets_cors_headers():
    request = run(SETTINGS, "POST", Origin=APP)
    assert request.response_headers == {
        "Vary": "Origin",
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "x-ratelimit-remaining-tokens",
    }


def test_origins_compare_case_insensitively_and_without_default_ports():
    settings = {"allowed_origins": ["HTTPS://App.Example.com:443/"], "allowed_methods": ["GET"]}
    request = run(settings, Origin=APP)
    assert request.response_headers["Access-Control-Allow-Origin"] == APP
    assert refused(settings, Origin="https://app.example.com:8443").status == 403


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://app.example.com", "null", "https://app.example.com.evil"],
)
def test_disallowed_origin_is_a_403(origin):
    rejection = refused(SETTINGS, Origin=origin)
    assert (rejection.status, rejection.message) == (403, "CORS origin not allowed")


def test_disallowed_origin_rejection_still_varies_on_origin():
    request = make_request(headers={"Origin": "https://evil.example"})
    with pytest.raises(PluginRejection):
        make_plugin("cors", SETTINGS).pre_request(request)
    assert request.response_headers == {"Vary": "Origin"}


def test_wildcard_answers_star_for_any_origin():
    settings = {"allowed_origins": ["*"], "allowed_methods": ["GET"]}
    request = run(settings, Origin="https://anyone.example")
    assert request.response_headers == {"Vary": "Origin", "Access-Control-Allow-Origin": "*"}


def test_preflight_is_answered_with_204_without_the_upstream():
    answer, request = answered(
        SETTINGS,
        Origin=APP,
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="Content-Type, Authorization, content-type",
    )
    assert (answer.status, answer.body) == (204, b"")
    assert answer.headers == {
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "content-type, authorization",
        "Access-Control-Max-Age": "600",
    }
    assert request.response_headers["Access-Control-Allow-Origin"] == APP
    assert request.response_headers["Access-Control-Allow-Credentials"] == "true"


def test_preflight_without_requested_headers_or_max_age_omits_them():
    settings = {"allowed_origins": ["*"], "allowed_methods": ["PUT"]}
    answer, _ = answered(settings, Origin=APP, Access_Control_Request_Method="put")
    headers = answer.headers
    assert "Access-Control-Allow-Headers" not in headers
    assert "Access-Control-Max-Age" not in headers
    assert headers["Access-Control-Allow-Methods"] == "PUT"


def test_preflight_echoes_only_valid_header_names():
    answer, _ = answered(
        SETTINGS,
        Origin=APP,
        Access_Control_Request_Method="GET",
        Access_Control_Request_Headers="x-api-key, bad header, , x(y)",
    )
    assert answer.headers["Access-Control-Allow-Headers"] == "x-api-key"


def test_preflight_for_a_method_not_allowed_is_a_405_as_trustgate():
    rejection = refused(SETTINGS, "OPTIONS", Origin=APP, Access_Control_Request_Method="DELETE")
    assert (rejection.status, rejection.message) == (405, "CORS preflight: method not allowed")
    assert rejection.headers == {"Allow": "GET, POST"}


def test_preflight_asking_for_headers_not_allowed_is_a_403():
    settings = {**SETTINGS, "allowed_headers": ["Content-Type", "Authorization"]}
    allowed, _ = answered(
        settings,
        Origin=APP,
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="authorization,CONTENT-TYPE",
    )
    assert allowed.status == 204
    rejection = refused(
        settings,
        "OPTIONS",
        Origin=APP,
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="authorization, x-debug",
    )
    assert (rejection.status, rejection.message) == (403, "CORS headers not allowed: x-debug")


def test_preflight_from_a_disallowed_origin_is_a_403():
    rejection = refused(
        SETTINGS, "OPTIONS", Origin="https://evil.example", Access_Control_Request_Method="GET"
    )
    assert rejection.status == 403


def test_options_without_requested_method_is_not_answered_before_authentication():
    request = make_request(method="OPTIONS", headers={"Origin": APP})
    make_plugin("cors", SETTINGS).pre_auth(request)
    assert request.response_headers == {}


def test_options_without_requested_method_is_a_400_as_trustgate():
    rejection = refused(SETTINGS, "OPTIONS", Origin=APP)
    assert (rejection.status, rejection.message) == (
        400,
        "CORS preflight missing Access-Control-Request-Method header",
    )
    assert refused(SETTINGS, "OPTIONS", Origin=APP, Access_Control_Request_Method=" ").status == 400


def test_options_without_requested_method_passes_when_options_is_allowed():
    """The browser's actual OPTIONS request, after its preflight for OPTIONS succeeded."""
    settings = {**SETTINGS, "allowed_methods": ["GET", "OPTIONS"]}
    request = run(settings, "OPTIONS", Origin=APP)
    assert request.response_headers["Access-Control-Allow-Origin"] == APP


def test_max_age_accepts_plain_seconds():
    settings = {**SETTINGS, "max_age": 86400}
    answer, _ = answered(settings, Origin=APP, Access_Control_Request_Method="GET")
    assert answer.headers["Access-Control-Max-Age"] == "86400"


def test_requests_without_origin_are_refused_when_origin_is_required():
    rejection = refused({**SETTINGS, "require_origin": True}, "POST")
    assert (rejection.status, rejection.message) == (403, "invalid origin")
    assert run({**SETTINGS, "require_origin": True}, "POST", Origin=APP).response_headers


def test_refused_origins_are_logged_when_asked_without_secrets(caplog):
    settings = {**SETTINGS, "log_violations": True}
    with caplog.at_level(logging.WARNING, logger="plugins.builtin.cors"):
        refused(settings, Origin="https://evil.example\r\nforged", X_API_Key="sk-secret-key")
        run(settings, Origin=APP, X_API_Key="sk-secret-key")
    [line] = caplog.messages
    assert "origin not allowed: 'https://evil.example\\r\\nforged'" in line
    assert "\n" not in line
    assert "sk-secret" not in line


def test_refused_origins_are_not_logged_by_default(caplog):
    with caplog.at_level(logging.WARNING, logger="plugins.builtin.cors"):
        refused(SETTINGS, Origin="https://evil.example")
    assert caplog.messages == []
