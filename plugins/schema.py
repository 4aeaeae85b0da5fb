"""JSON Schema of a plugin's settings, derived from its settings serializer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

SIMPLE_TYPES: list[tuple[type, dict[str, Any]]] = [
    (serializers.BooleanField, {"type": "boolean"}),
    (serializers.IntegerField, {"type": "integer"}),
    (serializers.FloatField, {"type": "number"}),
    (serializers.DecimalField, {"type": "number"}),
]


def field_schema(field: serializers.Field) -> dict[str, Any]:
    """The JSON Schema of one serializer field."""
    if isinstance(field, serializers.BaseSerializer) and not isinstance(
        field, serializers.ListSerializer
    ):
        return serializer_schema(field)
    if isinstance(field, serializers.ChoiceField):
        schema: dict[str, Any] = {"enum": list(field.choices)}
    elif isinstance(field, (serializers.ListField, serializers.ListSerializer)):
        schema = {"type": "array", "items": field_schema(field.child)}
    elif isinstance(field, serializers.DictField):
        schema = {"type": "object", "additionalProperties": field_schema(field.child)}
    else:
        schema = next(
            (dict(s) for kind, s in SIMPLE_TYPES if isinstance(field, kind)), {"type": "string"}
        )
    for attr, key in (("min_value", "minimum"), ("max_value", "maximum")):
        if getattr(field, attr, None) is not None:
            schema[key] = getattr(field, attr)
    if field.help_text:
        schema["description"] = str(field.help_text)
    if field.default is not serializers.empty and not callable(field.default):
        schema["default"] = field.default
    return schema


def serializer_schema(serializer: serializers.Serializer) -> dict[str, Any]:
    fields = serializer.fields
    return {
        "type": "object",
        "properties": {
            name: field_schema(field) for name, field in fields.items() if not field.read_only
        },
        "required": [name for name, field in fields.items() if field.required],
        "additionalProperties": False,
    }
