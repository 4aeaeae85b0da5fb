"""Serializers of upstream targets, their credentials and passive health-check settings."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateways.models import PORT_VALIDATORS

PROVIDERS = ("openai", "anthropic", "mistral", "azure", "google", "bedrock")
SECRET_FIELDS = ("header_value", "param_value", "api_key")
MASK = "********"


class CredentialsSerializer(serializers.Serializer):
    """How the gateway authenticates to the target: a header, a query/body parameter or an API key.

    Secret values are write-only: responses show a mask, never the value.
    """

    header_name = serializers.CharField(required=False, max_length=200)
    header_value = serializers.CharField(required=False, max_length=4000)
    param_name = serializers.CharField(required=False, max_length=200)
    param_value = serializers.CharField(required=False, max_length=4000)
    param_location = serializers.ChoiceField(choices=["query", "body"], required=False)
    api_key = serializers.CharField(required=False, max_length=4000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("header_name")) != bool(attrs.get("header_value")):
            raise serializers.ValidationError(
                {"header_value": ["header_name and header_value go together."]}
            )
        if bool(attrs.get("param_name")) != bool(attrs.get("param_value")):
            raise serializers.ValidationError(
                {"param_value": ["param_name and param_value go together."]}
            )
        if attrs.get("param_name") and not attrs.get("param_location"):
            attrs["param_location"] = "query"
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = dict(instance or {})
        return {
            key: (MASK if key in SECRET_FIELDS and value else value) for key, value in data.items()
        }


class TargetSerializer(serializers.Serializer):
    """A host target (host, port, protocol, path, weight) or an LLM provider target."""

    host = serializers.CharField(required=False, max_length=255)
    port = serializers.IntegerField(required=False, validators=PORT_VALIDATORS)
    protocol = serializers.ChoiceField(choices=["http", "https"], default="http")
    path = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    weight = serializers.IntegerField(required=False, default=1, min_value=0, max_value=1000)
    headers = serializers.DictField(child=serializers.CharField(), required=False, default=dict)
    credentials = CredentialsSerializer(required=False)
    provider = serializers.ChoiceField(choices=PROVIDERS, required=False)
    base_url = serializers.URLField(required=False)
    models = serializers.ListField(child=serializers.CharField(), required=False)
    default_model = serializers.CharField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("provider"):
            return self._validate_provider(attrs)
        if not attrs.get("host"):
            raise serializers.ValidationError(
                {"host": ["A target needs either a host or a provider."]}
            )
        if not attrs.get("port"):
            attrs["port"] = 443 if attrs["protocol"] == "https" else 80
        return attrs

    @staticmethod
    def _validate_provider(attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("host") or attrs.get("port"):
            raise serializers.ValidationError(
                {"host": ["A provider target takes no host or port."]}
            )
        if not attrs.get("credentials"):
            raise serializers.ValidationError(
                {"credentials": ["A provider target needs credentials."]}
            )
        models = attrs.get("models") or []
        if not models:
            raise serializers.ValidationError(
                {"models": ["A provider target needs at least one model."]}
            )
        if attrs.get("default_model") not in models:
            raise serializers.ValidationError({"default_model": ["Must be one of models."]})
        return attrs


class HealthChecksSerializer(serializers.Serializer):
    """Passive health: `threshold` failures take a target out for `interval` seconds."""

    passive = serializers.BooleanField(default=True)
    threshold = serializers.IntegerField(default=3, min_value=1, max_value=1000)
    interval = serializers.IntegerField(default=10, min_value=1, max_value=3600)
