"""request_size_limiter: refuse request bodies over a byte or character limit (413, 411)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from gateway_project.serializers import JSONBooleanField
from plugins.base import Plugin, PluginSettingsSerializer
from plugins.configs import Config
from plugins.sdk.context import PluginRejection, RequestContext

UNIT_BYTES = {"bytes": 1, "kilobytes": 1024, "megabytes": 1024 * 1024}
MAX_LIMIT_BYTES = 1024**4
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, kw_only=True)
class RequestSizeLimiterConfig(Config):
    allowed_payload_size: int
    size_unit: str = "megabytes"
    max_chars_per_request: int | None = None  # no limit
    require_content_length: bool = False


class RequestSizeLimiterSettingsSerializer(PluginSettingsSerializer):
    allowed_payload_size = serializers.IntegerField(min_value=1)
    size_unit = serializers.ChoiceField(
        choices=list(UNIT_BYTES), default=RequestSizeLimiterConfig.size_unit
    )
    max_chars_per_request = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Most characters of the UTF-8 decoded body; absent or null: no limit.",
    )
    require_content_length = JSONBooleanField(
        default=RequestSizeLimiterConfig.require_content_length
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["allowed_payload_size"] * UNIT_BYTES[attrs["size_unit"]] > MAX_LIMIT_BYTES:
            raise serializers.ValidationError(
                {"allowed_payload_size": ["Must be at most 1 TiB (1048576 megabytes)."]}
            )
        return attrs


def count_chars(body: bytes) -> int:
    """Characters of the body decoded as UTF-8 (an undecodable byte counts as one)."""
    if body.isascii():
        return len(body)
    return len(body.decode("utf-8", errors="replace"))


class RequestSizeLimiterPlugin(Plugin):
    name = "request_size_limiter"
    description = "Refuses requests whose body is larger than a byte or character limit."
    allowed_stages = ("pre_request",)
    settings_serializer = RequestSizeLimiterSettingsSerializer
    Config = RequestSizeLimiterConfig
    config: RequestSizeLimiterConfig
    label = "Request Size Limiter"
    category = "request_validation"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.max_bytes: int = config.allowed_payload_size * UNIT_BYTES[config.size_unit]
        self.max_chars: int | None = config.max_chars_per_request
        self.require_content_length: bool = config.require_content_length

    def pre_request(self, request: RequestContext) -> None:
        """Refuse (411, 413) with TrustGate's messages, else report the sizes in the
        response headers TrustGate sets."""
        self._check_content_length(request)
        size = len(request.body)
        if size > self.max_bytes:
            raise PluginRejection(413, bytes_exceeded(size))
        headers = {"X-Request-Size-Bytes": str(size), "X-Size-Limit-Bytes": str(self.max_bytes)}
        if self.max_chars is not None:
            chars = count_chars(request.body)
            if chars > self.max_chars:
                raise PluginRejection(
                    413, f"Character limit exceeded. Received: {chars} characters"
                )
            headers["X-Request-Size-Chars"] = str(chars)
            headers["X-Size-Limit-Chars"] = str(self.max_chars)
        request.response_headers.update(headers)

    def _check_content_length(self, request: RequestContext) -> None:
        """411 without Content-Length when required, for requests that carry (or should carry)
        a body; a declared length over the limit is refused before looking at the body."""
        declared = request.headers.get("Content-Length", "").strip()
        if not declared:
            if self.require_content_length and (request.body or request.method in BODY_METHODS):
                raise PluginRejection(411, "Content-Length header is required")
            return
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise PluginRejection(413, bytes_exceeded(int(declared)))


def bytes_exceeded(size: int) -> str:
    return f"Request size limit exceeded. Received: {size} bytes"
