"""request_size_limiter: settings validation, byte and character limits, Content-Length."""

from __future__ import annotations

import pytest

from plugins.sdk.context import PluginRejection
from tests.plugins.helpers import make_plugin, make_request, settings_errors


def check(settings: dict, body: bytes, method: str = "POST", headers: dict | None = None) -> int:
    """200 when the request passes, else the rejection status."""
    if headers is None:
        headers = {"Content-Length": str(len(body))}
    plugin = make_plugin("request_size_limiter", settings)
    try:
        plugin.pre_request(make_request(method=method, body=body, headers=headers))
    except PluginRejection as rejection:
        return rejection.status
    return 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "settings",
    [
        {"allowed_payload_size": 10},
        {"allowed_payload_size": 512, "size_unit": "kilobytes", "max_chars_per_request": 0},
        {"allowed_payload_size": 1, "size_unit": "bytes", "require_content_length": True},
    ],
)
def test_valid_settings_are_accepted(create_gateway_with, settings):
    response = create_gateway_with("request_size_limiter", settings)
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({}, "allowed_payload_size"),
        ({"allowed_payload_size": 0}, "allowed_payload_size"),
        ({"allowed_payload_size": "ten"}, "allowed_payload_size"),
        ({"allowed_payload_size": 2_000_000, "size_unit": "megabytes"}, "allowed_payload_size"),
        ({"allowed_payload_size": 1, "size_unit": "gigabytes"}, "size_unit"),
        ({"allowed_payload_size": 1, "max_chars_per_request": -1}, "max_chars_per_request"),
        ({"allowed_payload_size": 1, "require_content_length": "maybe"}, "require_content_length"),
        ({"allowed_payload_size": 1, "max_size": 3}, "max_size"),
    ],
)
def test_invalid_settings_are_a_400_naming_the_field(create_gateway_with, settings, field):
    assert field in settings_errors(create_gateway_with("request_size_limiter", settings))


@pytest.mark.parametrize(
    ("unit", "size", "body_length", "status"),
    [
        ("bytes", 100, 100, 200),
        ("bytes", 100, 101, 413),
        ("kilobytes", 1, 1024, 200),
        ("kilobytes", 1, 1025, 413),
        ("megabytes", 1, 1024 * 1024, 200),
        ("megabytes", 1, 1024 * 1024 + 1, 413),
    ],
)
def test_byte_limit_in_each_unit(unit, size, body_length, status):
    settings = {"allowed_payload_size": size, "size_unit": unit}
    assert check(settings, b"x" * body_length) == status


def test_unit_defaults_to_megabytes():
    assert check({"allowed_payload_size": 1}, b"x" * (1024 * 1024)) == 200
    assert check({"allowed_payload_size": 1}, b"x" * (1024 * 1024 + 1)) == 413


def test_rejection_messages_are_trustgates():
    plugin = make_plugin("request_size_limiter", {"allowed_payload_size": 4, "size_unit": "bytes"})
    with pytest.raises(PluginRejection) as caught:
        plugin.pre_request(make_request(body=b"12345"))
    assert caught.value.status == 413
    assert caught.value.message == "Request size limit exceeded. Received: 5 bytes"


def test_a_declared_length_over_the_limit_is_refused():
    settings = {"allowed_payload_size": 10, "size_unit": "bytes"}
    assert check(settings, b"", headers={"Content-Length": "11"}) == 413


def test_characters_are_counted_after_utf8_decoding_not_as_bytes():
    settings = {"allowed_payload_size": 1, "max_chars_per_request": 5}
    accents = "héllo".encode()  # 5 characters, 6 bytes
    emoji = "🙂🙂🙂🙂🙂".encode()  # 5 characters, 20 bytes
    assert check(settings, accents) == 200
    assert check(settings, emoji) == 200
    assert check(settings, "🙂🙂🙂🙂🙂🙂".encode()) == 413
    assert check(settings, b"abcdef") == 413


def test_character_rejection_message_counts_characters():
    plugin = make_plugin(
        "request_size_limiter", {"allowed_payload_size": 1, "max_chars_per_request": 2}
    )
    with pytest.raises(PluginRejection) as caught:
        plugin.pre_request(make_request(body="日本語".encode()))
    assert caught.value.status == 413
    assert caught.value.message == "Character limit exceeded. Received: 3 characters"


def test_zero_characters_allows_only_empty_bodies():
    settings = {"allowed_payload_size": 1, "max_chars_per_request": 0}
    assert check(settings, b"") == 200
    assert check(settings, b"a") == 413


def test_without_a_character_limit_only_bytes_count():
    assert check({"allowed_payload_size": 1}, "é".encode() * 1000) == 200


def test_missing_content_length_is_a_411_when_required():
    settings = {"allowed_payload_size": 1, "require_content_length": True}
    plugin = make_plugin("request_size_limiter", settings)
    with pytest.raises(PluginRejection) as caught:
        plugin.pre_request(make_request(body=b"{}", headers={"Transfer-Encoding": "chunked"}))
    assert (caught.value.status, caught.value.message) == (411, "Content-Length header is required")
    assert check(settings, b"", method="POST", headers={}) == 411
    assert check(settings, b"{}") == 200


def test_bodiless_get_without_content_length_passes_even_when_required():
    settings = {"allowed_payload_size": 1, "require_content_length": True}
    assert check(settings, b"", method="GET", headers={}) == 200


def test_content_length_is_optional_by_default():
    assert check({"allowed_payload_size": 1}, b"{}", headers={}) == 200


def test_a_passing_request_reports_its_size_and_the_limit_in_headers():
    plugin = make_plugin("request_size_limiter", {"allowed_payload_size": 1})
    request = make_request(body="héllo".encode())
    plugin.pre_request(request)
    assert request.response_headers == {
        "X-Request-Size-Bytes": "6",
        "X-Size-Limit-Bytes": str(1024 * 1024),
    }


def test_with_a_character_limit_the_characters_are_reported_too():
    settings = {"allowed_payload_size": 10, "size_unit": "kilobytes", "max_chars_per_request": 50}
    request = make_request(body="héllo".encode())
    make_plugin("request_size_limiter", settings).pre_request(request)
    assert request.response_headers == {
        "X-Request-Size-Bytes": "6",
        "X-Size-Limit-Bytes": "10240",
        "X-Request-Size-Chars": "5",
        "X-Size-Limit-Chars": "50",
    }


def test_a_refused_request_reports_no_sizes():
    request = make_request(body=b"12345")
    with pytest.raises(PluginRejection) as caught:
        make_plugin(
            "request_size_limiter", {"allowed_payload_size": 4, "size_unit": "bytes"}
        ).pre_request(request)
    assert caught.value.headers == {}
    assert request.response_headers == {}
