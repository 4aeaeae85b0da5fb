"""Serializer of sticky sessions (a gateway's or a rule's): a session goes to one target."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway_project.fields import HeaderNameField
from gateway_project.serializers import JSONBooleanField, StrictSerializer

BODY_FIELD = r"^[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100}){0,7}$"


class SessionConfigSerializer(StrictSerializer):
    """TrustGate's `session_config`: the session is named by a request header or a JSON body
    field (a dotted path such as `metadata.session_id`); for `ttl` seconds after its last
    request it goes to the target that answered it, while that target is healthy."""

    enabled = JSONBooleanField(default=False)  # TrustGate's: an empty config is off
    header_name = HeaderNameField(required=False, help_text="The header naming the session.")
    body_param_name = serializers.RegexField(
        BODY_FIELD,
        required=False,
        help_text="The JSON body field naming the session (dotted for nested fields).",
    )
    ttl = serializers.IntegerField(
        default=3600, min_value=1, max_value=7 * 86400, help_text="Seconds a session lasts."
    )
    not_supported_yet = frozenset({"mapping_field"})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("enabled", False)  # a partial update applies no defaults
        attrs.setdefault("ttl", 3600)
        if attrs["enabled"] and not (attrs.get("header_name") or attrs.get("body_param_name")):
            raise serializers.ValidationError(
                {"header_name": ["A session needs header_name or body_param_name."]}
            )
        return attrs
