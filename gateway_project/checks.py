"""System checks of the project set-up (ids `gateway.E002`, `gateway.E003`); see plugins.checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from gateway_project.conf import ROLES, gateway_settings

PROXY_MIDDLEWARE = "proxy.middleware.GatewayProxyMiddleware"


@register()
def check_role(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """GATEWAY_ROLE names the planes this process serves; a typo must not start a server."""
    role = gateway_settings.ROLE
    if role in ROLES:
        return []
    return [
        Error(
            f"GATEWAY['ROLE'] is {role!r}, not one of {', '.join(ROLES)}.",
            hint="Set GATEWAY_ROLE to all, admin or proxy (or leave it unset: all).",
            id="gateway.E002",
        )
    ]


@register()
def check_proxy_middleware_first(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Gateway hosts must reach the proxy before any other middleware (sessions, CSRF, admin)."""
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    if middleware[:1] == [PROXY_MIDDLEWARE]:
        return []
    return [
        Error(
            f"{PROXY_MIDDLEWARE} is not the first entry of MIDDLEWARE.",
            hint="Put it first: other middleware would run on every proxied request, and "
            "gateway hosts could reach admin URLs.",
            id="gateway.E003",
        )
    ]
