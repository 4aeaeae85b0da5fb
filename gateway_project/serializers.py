"""Serializer building blocks shared by the apps: strict keys, strict booleans."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from rest_framework import serializers

# Serializer context of the data migrations that re-normalise stored data written before
# validation was strict: textual booleans are read as DRF reads them, unknown keys dropped.
LEGACY_CONTEXT = {"legacy": True}
# The answer to a TrustGate field this gateway does not implement (yet): never dropped silently,
# and told apart from a misspelt field.
NOT_SUPPORTED_MESSAGE = "TrustGate field not supported yet by this gateway."


def _is_legacy(field: serializers.Field) -> bool:
    return bool(field.context.get("legacy"))


class JSONBooleanField(serializers.BooleanField):
    """A JSON boolean: `"false"`, `0` or `"yes"` are refused, not guessed."""

    default_error_messages = {"invalid": "Must be a JSON boolean (true or false)."}

    def to_internal_value(self, data: Any) -> bool:
        if not (isinstance(data, bool) or _is_legacy(self)):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


# Refuses keys it does not declare: a misspelt setting must not vanish silently; on create,
# read-only ones too (an `id` or `created_at` the client believes it chose). (A comment,
# not a docstring: subclasses without their own would show it in the OpenAPI schema.)
class StrictSerializer(serializers.Serializer):
    unknown_key_message: ClassVar[str] = "Unknown field."
    read_only_message: ClassVar[str] = "Read-only: set by the gateway, not on create."
    # TrustGate's fields of this object that the gateway does not implement (yet).
    not_supported_yet: ClassVar[frozenset[str]] = frozenset()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown and _is_legacy(self):
                data = {key: value for key, value in data.items() if key in self.fields}
            elif unknown:
                raise serializers.ValidationError(
                    {key: [self._unknown_key_message(key)] for key in unknown}
                )
            if read_only := self._read_only_on_create(data):
                raise serializers.ValidationError(
                    {key: [self.read_only_message] for key in read_only}
                )
        return super().to_internal_value(data)

    def _read_only_on_create(self, data: dict[str, Any]) -> list[str]:
        """The read-only keys of `data` when it creates an object (a model serializer at the
        root without an instance); a body read with GET may still be sent back on update.
        (Items of a WholeItemsListField are validated unbound: their own root, not a create.)"""
        root = self.root
        if not isinstance(root, serializers.ModelSerializer) or root.instance is not None:
            return []
        if _is_legacy(self):
            return []
        return sorted(key for key in data if key in self.fields and self.fields[key].read_only)

    def _unknown_key_message(self, key: str) -> str:
        return NOT_SUPPORTED_MESSAGE if key in self.not_supported_yet else self.unknown_key_message


# A model serializer refusing undeclared keys; model booleans are JSON booleans. Read-only
# fields are declared fields: a body read with GET can be sent back as it is. (No docstring:
# the OpenAPI schema would show it as the description of every admin body.)
class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: JSONBooleanField,
    }
