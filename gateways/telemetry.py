"""TrustGate E2's `telemetry` of a gateway: where its traces go and what they carry (validated
when written; observability.tracing reads the stored form)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from gateway_project.fields import HeaderNameField, HeadersField, normalise_host
from gateway_project.secret_masking import masked_settings, restored_settings
from gateway_project.serializers import JSONBooleanField, StrictSerializer
from gateway_project.upstream_deny import refuse_denied_address

# `otlp`: OTLP/HTTP protobuf to a collector; `http`: the same spans as OTLP/JSON POSTed to any
# HTTP endpoint. TrustGate's `kafka` and `trustlens` need a broker or service the gateway does not
# talk to: refused by name rather than stored and never used.
EXPORTERS = ("otlp", "http")
UNSUPPORTED_EXPORTERS = ("kafka", "trustlens")
HEADER_MAPPING_KEYS = ("conversation_id", "interaction_id", "session_id")
SECRET_PATHS = ("exporters.*.settings.headers.*",)  # collector tokens: shown masked
MAX_EXPORTERS = 4
MAX_EXTRA_PARAMS = 32


class CollectorURLField(serializers.CharField):
    """An http(s) URL of a collector: any host name, single labels included (`otel-collector`,
    a compose or cluster service); no credentials or fragment."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2000, validators=[refuse_denied_address], **kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            parts = urlsplit(text)
            normalise_host(parts.hostname or "")
            parts.port  # noqa: B018 (raises ValueError when out of range)
        except ValueError as exc:
            raise serializers.ValidationError("Enter an http(s) URL with a host.") from exc
        if parts.scheme not in ("http", "https"):
            raise serializers.ValidationError("Enter an http(s) URL with a host.")
        if "@" in parts.netloc or "#" in text:
            raise serializers.ValidationError("A collector URL has no credentials or fragment.")
        return text


class ExporterSettingsSerializer(StrictSerializer):
    endpoint = CollectorURLField()
    headers = HeadersField(required=False)


class ExporterSerializer(StrictSerializer):
    name = serializers.CharField(max_length=32)
    settings = ExporterSettingsSerializer()

    def validate_name(self, name: str) -> str:
        if name in UNSUPPORTED_EXPORTERS:
            raise serializers.ValidationError(
                f"The {name} exporter is not supported by this gateway: use one of "
                f"{', '.join(EXPORTERS)} (OpenTelemetry collectors forward to {name})."
            )
        if name not in EXPORTERS:
            raise serializers.ValidationError(
                f"Unknown exporter: use one of {', '.join(EXPORTERS)}"
            )
        return name


class ExtraParamsField(serializers.DictField):
    """Span attributes added to every request span: names of letters, digits, `_` and `.`,
    values that are strings, numbers or booleans."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        params = super().to_internal_value(data)
        if len(params) > MAX_EXTRA_PARAMS:
            raise serializers.ValidationError(f"At most {MAX_EXTRA_PARAMS} parameters.")
        errors = {}
        for name, value in params.items():
            if not (0 < len(name) <= 100 and name.replace("_", "").replace(".", "").isalnum()):
                errors[name] = ["A name of letters, digits, '_' and '.' (at most 100)."]
            elif not isinstance(value, str | int | float | bool) or len(str(value)) > 1000:
                errors[name] = ["A string (at most 1000 characters), a number or a boolean."]
        if errors:
            raise serializers.ValidationError(errors)
        return params


class HeaderMappingField(serializers.DictField):
    """`conversation_id`, `interaction_id` or `session_id` -> the request header carrying it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=HeaderNameField(), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        mapping = super().to_internal_value(data)
        unknown = {key: [f"Use one of {', '.join(HEADER_MAPPING_KEYS)}."] for key in mapping}
        unknown = {key: error for key, error in unknown.items() if key not in HEADER_MAPPING_KEYS}
        if unknown:
            raise serializers.ValidationError(unknown)
        return mapping


class TelemetrySerializer(StrictSerializer):
    exporters = serializers.ListField(
        child=ExporterSerializer(), required=False, max_length=MAX_EXPORTERS
    )
    enable_request_traces = JSONBooleanField(default=True)
    enable_plugin_traces = JSONBooleanField(default=True)
    extra_params = ExtraParamsField(required=False)
    header_mapping = HeaderMappingField(required=False)

    def to_representation(self, instance: Any) -> Any:
        return masked_settings(SECRET_PATHS, instance) if instance else {}


def restore_telemetry_secrets(telemetry: dict[str, Any], stored: Any) -> dict[str, Any]:
    """A collector header sent back masked keeps its stored value (400 without one)."""
    return restored_settings(SECRET_PATHS, telemetry, stored or {})
