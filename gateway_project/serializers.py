"""Serializer building blocks shared by the apps."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not declare: a misspelt setting must not vanish silently."""

    unknown_key_message: ClassVar[str] = "Unknown field."

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: [self.unknown_key_message] for key in unknown}
                )
        return super().to_internal_value(data)
