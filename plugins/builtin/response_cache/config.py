"""The typed config and the settings of response_cache, validated strictly when written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rest_framework import serializers

from gateway_project.fields import DurationField
from gateway_project.serializers import JSONBooleanField
from plugins.base import PluginSettingsSerializer
from plugins.configs import Config

MAX_ENTRY_BYTES = 8 * 1024 * 1024
MAX_SEMANTIC_ENTRIES = 10_000


@dataclass(frozen=True, kw_only=True)
class ResponseCacheConfig(Config):
    mode: Literal["exact", "semantic"] = "exact"
    ttl: str = "1h"
    scope: Literal["key", "shared"] = "key"
    max_entry_bytes: int = 1024 * 1024
    temperature_zero_only: bool = False
    embedding_model: str | None = None
    threshold: float = 0.95
    embed: Literal["last_user_message", "conversation"] = "last_user_message"
    max_entries: int = 1000


class ResponseCacheSettingsSerializer(PluginSettingsSerializer):
    mode = serializers.ChoiceField(
        choices=["exact", "semantic"],
        default=ResponseCacheConfig.mode,
        help_text="exact: the same request (after the request plugins ran); semantic: also a "
        "request whose text is as close as `threshold` by its embedding.",
    )
    ttl = DurationField(default=ResponseCacheConfig.ttl, help_text="How long an answer is kept.")
    scope = serializers.ChoiceField(
        choices=["key", "shared"],
        default=ResponseCacheConfig.scope,
        help_text="key: answers are served to the API key that got them only; shared: to any "
        "key of the rule.",
    )
    max_entry_bytes = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ENTRY_BYTES,
        default=ResponseCacheConfig.max_entry_bytes,
        help_text="Answers larger than this are not kept.",
    )
    temperature_zero_only = JSONBooleanField(
        default=ResponseCacheConfig.temperature_zero_only,
        help_text="Cache only requests that set temperature 0.",
    )
    embedding_model = serializers.CharField(
        required=False,
        max_length=200,
        help_text="semantic: the embeddings model, served by one of the rule's provider targets.",
    )
    threshold = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        default=ResponseCacheConfig.threshold,
        help_text="semantic: the cosine similarity a kept request needs to answer.",
    )
    embed = serializers.ChoiceField(
        choices=["last_user_message", "conversation"],
        default=ResponseCacheConfig.embed,
        help_text="semantic: what is embedded; the rest of the request must be the same.",
    )
    max_entries = serializers.IntegerField(
        min_value=1,
        max_value=MAX_SEMANTIC_ENTRIES,
        default=ResponseCacheConfig.max_entries,
        help_text="semantic: vectors searched per scope and parameters (the newest kept).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("mode") == "semantic" and not attrs.get("embedding_model"):
            raise serializers.ValidationError({"embedding_model": ["Required with mode semantic."]})
        return attrs
