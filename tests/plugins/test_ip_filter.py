"""ip_whitelist and ip_blacklist: settings validation and decisions on the client IP."""

from __future__ import annotations

import pytest

from plugins.sdk.context import PluginRejection
from tests.plugins.helpers import make_plugin, make_request, settings_errors

WHITELIST = {"ips": ["192.0.2.10", "2001:db8::1"], "cidrs": ["10.0.0.0/8", "fd00::/8"]}


ALLOWED = (200, "")
FORBIDDEN = (403, "forbidden")


def decision(
    name: str, settings: dict, client_ip: str, headers: dict | None = None
) -> tuple[int, str]:
    """(200, "") when the plugin lets the request through, else the rejection's status and error."""
    plugin = make_plugin(name, settings)
    try:
        plugin.pre_request(make_request(client_ip=client_ip, headers=headers))
    except PluginRejection as rejection:
        return rejection.status, rejection.message
    return ALLOWED


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["ip_whitelist", "ip_blacklist"])
def test_valid_settings_are_accepted(create_gateway_with, name):
    response = create_gateway_with(name, WHITELIST)
    assert response.status_code == 201, response.json()
    assert response.json()["required_plugins"][0]["settings"] == {"enabled": True, **WHITELIST}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "errors"),
    [
        ({"ips": ["10.0.0.1", "10.0.0.300"]}, {"ips": {"1"}}),
        ({"cidrs": ["10.0.0.0/8", "2001:db8::/200", "nope"]}, {"cidrs": {"1", "2"}}),
        ({"ips": ["not-an-ip"], "cidrs": ["10.0.0.0/33"]}, {"ips": {"0"}, "cidrs": {"0"}}),
    ],
)
def test_invalid_entries_are_a_400_naming_the_index(create_gateway_with, settings, errors):
    fields = settings_errors(create_gateway_with("ip_whitelist", settings))
    assert {name: set(fields[name]) for name in fields} == errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({}, "ips"),
        ({"ips": [], "cidrs": []}, "cidrs"),
        ({"ips": "10.0.0.1"}, "ips"),
        ({"ips": ["10.0.0.1"], "enabled": "yes"}, "enabled"),
        ({"enabled": True}, "ips"),
        ({"ips": ["10.0.0.1"], "enable": True}, "enable"),
    ],
)
def test_empty_or_malformed_settings_are_a_400(create_gateway_with, settings, field):
    assert field in settings_errors(create_gateway_with("ip_blacklist", settings))


@pytest.mark.parametrize(
    ("client_ip", "allowed"),
    [
        ("192.0.2.10", True),
        ("192.0.2.11", False),
        ("10.200.3.4", True),
        ("11.0.0.1", False),
        ("2001:db8::1", True),
        ("2001:db8:0:0::1", True),
        ("2001:db8::2", False),
        ("fd12:3456::1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:192.0.2.10", True),
        ("::ffff:11.0.0.1", False),
        ("[2001:db8::1]", True),
        ("", False),
        ("garbage", False),
    ],
)
def test_whitelist_lets_only_listed_clients_through(client_ip, allowed):
    assert decision("ip_whitelist", WHITELIST, client_ip) == (ALLOWED if allowed else FORBIDDEN)


@pytest.mark.parametrize(
    ("client_ip", "blocked"),
    [
        ("192.0.2.10", True),
        ("10.1.2.3", True),
        ("::ffff:10.1.2.3", True),
        ("2001:db8::1", True),
        ("192.0.2.11", False),
        ("2001:db8::2", False),
        ("", False),
    ],
)
def test_blacklist_refuses_only_listed_clients(client_ip, blocked):
    assert decision("ip_blacklist", WHITELIST, client_ip) == (FORBIDDEN if blocked else ALLOWED)


def test_client_supplied_ip_headers_are_ignored():
    spoofed = {"X-Real-IP": "10.0.0.1", "X-Forwarded-For": "10.0.0.1", "True-Client-IP": "10.0.0.1"}
    assert decision("ip_whitelist", WHITELIST, "198.51.100.1", spoofed) == FORBIDDEN
    assert decision("ip_blacklist", WHITELIST, "198.51.100.1", spoofed) == ALLOWED


def test_ipv4_mapped_rules_match_plain_ipv4_clients():
    settings = {"ips": ["::ffff:198.51.100.1"], "cidrs": ["::ffff:172.16.0.0/108"]}
    assert decision("ip_whitelist", settings, "198.51.100.1") == ALLOWED
    assert decision("ip_whitelist", settings, "172.16.9.9") == ALLOWED
    assert decision("ip_whitelist", settings, "172.32.0.1") == FORBIDDEN


def test_cidr_with_host_bits_covers_its_network():
    assert decision("ip_whitelist", {"cidrs": ["10.1.2.3/16"]}, "10.1.200.1") == ALLOWED
    assert decision("ip_whitelist", {"cidrs": ["10.1.2.3/16"]}, "10.2.0.1") == FORBIDDEN


@pytest.mark.django_db
@pytest.mark.parametrize(
    "settings", [{"enabled": False}, {"enabled": False, "ips": ["10.0.0.1"]}, WHITELIST]
)
def test_enabled_is_accepted_as_trustgate_sends_it(create_gateway_with, settings):
    response = create_gateway_with("ip_whitelist", settings)
    assert response.status_code == 201, response.json()
    assert response.json()["required_plugins"][0]["settings"]["enabled"] is settings.get(
        "enabled", True
    )


def test_disabled_filters_let_every_client_through():
    disabled = {**WHITELIST, "enabled": False}
    assert decision("ip_whitelist", disabled, "198.51.100.1") == ALLOWED
    assert decision("ip_blacklist", disabled, "192.0.2.10") == ALLOWED
    assert decision("ip_whitelist", {"enabled": False}, "") == ALLOWED
    assert decision("ip_whitelist", {**WHITELIST, "enabled": True}, "198.51.100.1") == FORBIDDEN
