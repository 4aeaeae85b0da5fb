"""Project system checks: GATEWAY_ROLE (gateway.E002) and the proxy middleware first (E003)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from gateway_project.checks import PROXY_MIDDLEWARE, check_proxy_middleware_first, check_role


def ids(messages) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize("role", ["all", "admin", "proxy"])
def test_known_roles_pass(settings, role):
    settings.GATEWAY = {**settings.GATEWAY, "ROLE": role}
    assert check_role() == []


@pytest.mark.parametrize("role", ["proxies", "ALL", ""])
def test_unknown_role_is_an_error(settings, role):
    settings.GATEWAY = {**settings.GATEWAY, "ROLE": role}
    [error] = check_role()
    assert error.id == "gateway.E002"
    assert repr(role) in error.msg


def test_unknown_role_stops_manage_py_check(settings):
    settings.GATEWAY = {**settings.GATEWAY, "ROLE": "proxies"}
    with pytest.raises(SystemCheckError, match="gateway.E002"):
        call_command("check")


def test_proxy_middleware_first_passes(settings):
    assert settings.MIDDLEWARE[0] == PROXY_MIDDLEWARE
    assert check_proxy_middleware_first() == []
    call_command("check")  # the shipped settings pass every check


@pytest.mark.parametrize(
    "middleware",
    [
        ["django.middleware.security.SecurityMiddleware", PROXY_MIDDLEWARE],
        ["django.middleware.security.SecurityMiddleware"],
        [],
    ],
)
def test_proxy_middleware_not_first_is_an_error(settings, middleware):
    settings.MIDDLEWARE = middleware
    assert ids(check_proxy_middleware_first()) == ["gateway.E003"]
