"""cors: CORS response headers for allowed origins, preflights answered by the gateway."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from gateway_project.fields import (
    HeaderNameField,
    OriginField,
    SecondsField,
    is_header_name,
    normalise_origin,
)
from gateway_project.serializers import JSONBooleanField
from plugins.base import Plugin, PluginSettingsSerializer
from plugins.configs import Config
from plugins.sdk.context import PluginRejection, PluginResponse, RequestContext

logger = logging.getLogger(__name__)

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_ECHOED_HEADERS = 64
MAX_AGE_LIMIT = 366 * 86400
MAX_LOGGED_ORIGIN = 200


@dataclass(frozen=True, kw_only=True)
class CorsConfig(Config):
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] | None = None  # any requested header
    allow_credentials: bool = False
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    require_origin: bool = False
    log_violations: bool = False


class MethodField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=METHODS, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data.upper() if isinstance(data, str) else data)


class CorsSettingsSerializer(PluginSettingsSerializer):
    allowed_origins = serializers.ListField(
        child=OriginField(),
        min_length=1,
        help_text="'*' or origins such as https://app.example.com.",
    )
    allowed_methods = serializers.ListField(child=MethodField(), min_length=1)
    allowed_headers = serializers.ListField(
        child=HeaderNameField(),
        required=False,
        help_text="Headers a preflight may ask for; '*' or absent: any requested header.",
    )
    allow_credentials = JSONBooleanField(default=CorsConfig.allow_credentials)
    expose_headers = serializers.ListField(child=HeaderNameField(), default=list)
    max_age = SecondsField(
        max_value=MAX_AGE_LIMIT,
        required=False,
        help_text="How long browsers may cache a preflight: seconds, or a duration such as '10m'.",
    )

    require_origin = JSONBooleanField(
        default=CorsConfig.require_origin,
        help_text="Refuse requests without Origin (403 'invalid origin'), as TrustGate does; "
        "false lets server-to-server callers through untouched.",
    )
    log_violations = JSONBooleanField(
        default=CorsConfig.log_violations, help_text="Log a warning for each refused origin."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["allow_credentials"] and "*" in attrs["allowed_origins"]:
            raise serializers.ValidationError(
                {"allow_credentials": ["Cannot be true when allowed_origins contains '*'."]}
            )
        return attrs


def requested_headers(value: str) -> list[str]:
    """Header names of Access-Control-Request-Headers: valid tokens, lower case, no repeats."""
    names = [name.strip().lower() for name in value.split(",")]
    unique = dict.fromkeys(name for name in names if name and is_header_name(name))
    return list(unique)[:MAX_ECHOED_HEADERS]


def is_preflight(request: RequestContext) -> bool:
    """An OPTIONS request with Origin and Access-Control-Request-Method (the browser's check)."""
    headers = request.headers
    return (
        request.method == "OPTIONS"
        and "Origin" in headers
        and "Access-Control-Request-Method" in headers
    )


class CorsPlugin(Plugin):
    """Requests without Origin (server-to-server) pass untouched unless `require_origin`;
    browsers get CORS.

    A preflight is answered before authentication (`pre_auth`: it carries no API key) with
    PluginResponse 204; other requests get their CORS headers in pre_request. An OPTIONS
    request with Origin but without Access-Control-Request-Method is a malformed preflight
    (400), unless OPTIONS itself is an allowed method (the browser's actual OPTIONS request)."""

    name = "cors"
    description = "CORS: allowed origins get CORS headers, preflights are answered by the gateway."
    allowed_stages = ("pre_request",)
    fixed_stages = ("pre_request",)
    settings_serializer = CorsSettingsSerializer
    Config = CorsConfig
    config: CorsConfig
    label = "CORS"
    category = "application_security"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        origins = config.allowed_origins
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)
        self.credentials: bool = config.allow_credentials
        self.methods = frozenset(config.allowed_methods)
        self.allow_methods = ", ".join(dict.fromkeys(config.allowed_methods))
        headers = config.allowed_headers
        self.any_header = headers is None or "*" in headers
        self.headers = frozenset(h.lower() for h in headers or ())
        self.expose = ", ".join(config.expose_headers)
        self.max_age: int | None = config.max_age
        self.require_origin: bool = config.require_origin
        self.log_violations: bool = config.log_violations

    def pre_auth(self, request: RequestContext) -> None:
        if is_preflight(request):
            self.pre_request(request)

    def pre_request(self, request: RequestContext) -> None:
        origin = request.headers.get("Origin")
        if origin is None:
            if self.require_origin:
                raise PluginRejection(403, "invalid origin")
            return
        request.response_headers["Vary"] = "Origin"
        if not self._origin_allowed(origin):
            self._log_violation(request, origin)
            raise PluginRejection(403, "CORS origin not allowed")
        request.response_headers.update(self._origin_headers(origin))
        if request.method != "OPTIONS":
            return
        method = request.headers.get("Access-Control-Request-Method", "").strip()
        if method:
            self._preflight(request, method)
        elif "OPTIONS" not in self.methods:
            raise PluginRejection(
                400, "CORS preflight missing Access-Control-Request-Method header"
            )

    def _origin_allowed(self, origin: str) -> bool:
        if self.any_origin:
            return True
        try:
            return normalise_origin(origin) in self.origins
        except ValueError:
            return False  # e.g. the opaque origin "null"

    def _log_violation(self, request: RequestContext, origin: str) -> None:
        """One warning line: the refused origin (escaped, cut short) and the request's ids."""
        if self.log_violations:
            logger.warning(
                "CORS violation: origin not allowed: %s (gateway %s, request %s)",
                ascii(origin[:MAX_LOGGED_ORIGIN]),
                request.gateway_id,
                request.request_id,
            )

    def _origin_headers(self, origin: str) -> dict[str, str]:
        headers = {"Access-Control-Allow-Origin": "*" if self.any_origin else origin}
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if self.expose:
            headers["Access-Control-Expose-Headers"] = self.expose
        return headers

    def _preflight(self, request: RequestContext, method: str) -> None:
        # 405 as TrustGate answers it, with the Allow header a 405 requires; browsers treat any
        # non-2xx preflight answer as a failure, so the status only matters to clients and people.
        if method.upper() not in self.methods:
            raise PluginRejection(
                405, "CORS preflight: method not allowed", headers={"Allow": self.allow_methods}
            )
        asked = requested_headers(request.headers.get("Access-Control-Request-Headers", ""))
        refused = [name for name in asked if not self.any_header and name not in self.headers]
        if refused:
            raise PluginRejection(403, f"CORS headers not allowed: {', '.join(refused)}")
        headers = {
            "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            "Access-Control-Allow-Methods": self.allow_methods,
        }
        if asked:
            headers["Access-Control-Allow-Headers"] = ", ".join(asked)
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        raise PluginResponse(204, headers)
