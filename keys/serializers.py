"""Admin API serializers of API keys: the secret appears only in create and rotate responses."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from rest_framework import serializers

from gateway_project.serializers import StrictModelSerializer
from keys.models import ApiKey

TOOL_PATTERN = r"^[A-Za-z0-9_.*/-]{1,128}$"


class ApiKeySerializer(StrictModelSerializer):
    gateway_id = serializers.UUIDField(read_only=True)
    allowed_tools = serializers.ListField(
        child=serializers.RegexField(TOOL_PATTERN),
        required=False,
        allow_null=True,
        max_length=500,
        help_text="MCP tools the key may list and call: exact names and `*` globs (the names "
        "clients see, prefixed); once set, any other tool is refused. null: every tool.",
    )
    active = serializers.SerializerMethodField()
    not_supported_yet = frozenset({"subject_type", "subject", "policies"})  # TrustGate IAM keys

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "gateway_id",
            "name",
            "prefix",
            "active",
            "expires_at",
            "allowed_tools",
            "created_at",
            "rotated_at",
        ]
        read_only_fields = ["id", "prefix", "created_at", "rotated_at"]

    def get_active(self, api_key: ApiKey) -> bool:
        return not api_key.is_expired()

    def validate_expires_at(self, expires_at: datetime | None) -> datetime | None:
        if expires_at is not None and expires_at <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return expires_at


class ApiKeyWithSecretSerializer(ApiKeySerializer):
    """The one response that carries the plain key (creation and rotation)."""

    key = serializers.CharField(read_only=True)

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class PublicApiKeySerializer(ApiKeySerializer):
    """A key as TrustGate's `/public-keys` lists it: `key` is only the display prefix."""

    key = serializers.SerializerMethodField()

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields

    def get_key(self, api_key: ApiKey) -> str:
        return f"{api_key.prefix}..."
