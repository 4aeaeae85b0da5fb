"""JSON Schema of a plugin's settings, derived from its settings serializer.

A custom field that is not a subclass of a DRF field named below declares its schema in a
`json_schema` class attribute (e.g. a field taking seconds or a duration string).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

SIMPLE_TYPES: list[tuple[type, dict[str, Any]]] = [
    (serializers.BooleanField, {"type": "boolean"}),
    (serializers.IntegerField, {"type": "integer"}),
    (serializers.FloatField, {"type": "number"}),
    (serializers.DecimalField, {"type": "number"}),
    (serializers.CharField, {"type": "string"}),
]
BOUNDS = [
    ("min_value", "minimum"),
    ("max_value", "maximum"),
    ("min_length", "minLength"),
    ("max_length", "maxLength"),
]


def field_schema(field: serializers.Field) -> dict[str, Any]:
    """The JSON Schema of one serializer field (`{}`, anything, for an undeclared custom field)."""
    schema = _base_schema(field)
    for attr, key in BOUNDS:
        if getattr(field, attr, None) is not None:
            if isinstance(field, serializers.ListField):
                key = key.replace("Length", "Items")
            schema[key] = getattr(field, attr)
    if field.allow_null:
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        elif "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            schema["type"] = [*types, "null"]
    if field.help_text:
        schema["description"] = str(field.help_text)
    if field.default is not serializers.empty and not callable(field.default):
        schema["default"] = field.default
    return schema


def _base_schema(field: serializers.Field) -> dict[str, Any]:
    declared = getattr(field, "json_schema", None)
    if declared is not None:
        return dict(declared)
    if isinstance(field, serializers.ListSerializer):
        return {"type": "array", "items": serializer_schema(field.child)}
    if isinstance(field, serializers.BaseSerializer):
        return serializer_schema(field)
    if isinstance(field, serializers.ChoiceField):
        return {"enum": list(field.choices)}
    if isinstance(field, serializers.ListField):
        return {"type": "array", "items": field_schema(field.child)}
    if isinstance(field, serializers.DictField):
        return {"type": "object", "additionalProperties": field_schema(field.child)}
    return next((dict(s) for kind, s in SIMPLE_TYPES if isinstance(field, kind)), {})


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
