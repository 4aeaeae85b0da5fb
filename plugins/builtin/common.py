"""Helpers shared by built-in plugins: settings normalisation and header-name validation."""

from __future__ import annotations

import re
from typing import Any

import redis
from rest_framework import serializers

HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# What "Redis is unavailable" means to a limiter's fail_open: it cannot be reached or answer
# writes (a replica, a cluster failing over); never a bad reply or bad input.
REDIS_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
)


def validated_settings(
    serializer_class: type[serializers.Serializer], settings: dict[str, Any]
) -> dict[str, Any]:
    """Settings as the serializer normalises them (types, defaults).

    Settings are stored as written and were validated then; running the serializer again
    once per compiled configuration (never per request) gives the plugin clean values.
    """
    serializer = serializer_class(data=settings)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def is_header_name(value: str) -> bool:
    """True when `value` is a syntactically valid HTTP header name (an RFC 9110 token)."""
    return bool(HEADER_NAME_RE.match(value))


class HeaderNameField(serializers.CharField):
    """An HTTP header name, kept as written."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data).strip()
        if not is_header_name(text):
            raise serializers.ValidationError(f"{text!r} is not a valid header name.")
        return text
