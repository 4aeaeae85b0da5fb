"""Settings of data_masking (TrustGate's shape), validated strictly when written."""

from __future__ import annotations

from typing import Any

import re2
from rest_framework import serializers

from gateway_project.fields import HeaderNameField
from gateway_project.headers import CREDENTIAL_HEADERS
from gateway_project.secret_masking import MASK
from gateway_project.serializers import JSONBooleanField, StrictSerializer
from plugins.base import PluginSettingsSerializer
from plugins.builtin.data_masking.config import (
    DataMaskingConfig,
    EntityConfig,
    ReversibleHashing,
    RuleConfig,
    Targets,
)
from plugins.builtin.data_masking.entities import NAMES
from plugins.builtin.data_masking.masker import compile_re2
from plugins.configs import settings_of

MAX_RULES = 200
MAX_PATTERN = 1000
MIN_SECRET = 16
MAX_HEADERS = 50
# Headers the gateway reads or frames the request with: never rewritten by masking.
UNMASKABLE_HEADERS = CREDENTIAL_HEADERS | {
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
}


class EntitySerializer(StrictSerializer):
    entity = serializers.ChoiceField(choices=NAMES)
    enabled = JSONBooleanField(default=EntityConfig.enabled)
    mask_with = serializers.CharField(required=False, max_length=200)
    preserve_len = JSONBooleanField(default=EntityConfig.preserve_len)


class RuleSerializer(StrictSerializer):
    pattern = serializers.CharField(max_length=MAX_PATTERN, trim_whitespace=False)
    type = serializers.ChoiceField(choices=["keyword", "regex"])
    mask_with = serializers.CharField(max_length=200, trim_whitespace=False)
    preserve_len = JSONBooleanField(
        default=RuleConfig.preserve_len,
        help_text="Regex hits become '*' as long as the value; keywords keep mask_with as "
        "TrustGate does.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == "regex":
            try:
                regex = compile_re2(attrs["pattern"])
            except re2.error as exc:
                raise serializers.ValidationError(
                    {"pattern": [f"Not a regular expression RE2 runs in linear time: {exc}."]}
                ) from exc
            if regex.search("") is not None:
                raise serializers.ValidationError({"pattern": ["Matches the empty string."]})
        return attrs


class ReversibleHashingSerializer(StrictSerializer):
    enabled = JSONBooleanField(default=ReversibleHashing.enabled)
    secret = serializers.CharField(
        required=False,
        max_length=1000,
        trim_whitespace=False,
        help_text=f"HMAC-SHA256 key of the tokens, {MIN_SECRET}+ characters; write-only "
        "(shown masked; the mask sent back keeps the stored secret).",
    )

    def validate_secret(self, secret: str) -> str:
        if secret != MASK and len(secret) < MIN_SECRET:  # the mask is restored after validation
            raise serializers.ValidationError(
                f"Ensure this field has at least {MIN_SECRET} characters."
            )
        return secret

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["enabled"] and not attrs.get("secret"):
            raise serializers.ValidationError({"secret": ["Required when enabled."]})
        return attrs


class TargetsSerializer(StrictSerializer):
    """Where masking looks besides the body (which it always masks); all off by default."""

    query = JSONBooleanField(default=Targets.query, help_text="Query string values masked.")
    headers = serializers.ListField(
        child=HeaderNameField(),
        default=list,
        max_length=MAX_HEADERS,
        help_text="Request headers whose values are masked (names, any case).",
    )
    json_keys = JSONBooleanField(default=Targets.json_keys, help_text="JSON key names masked too.")

    def validate_headers(self, names: list[str]) -> list[str]:
        lowered = [name.lower() for name in names]
        refused = sorted(set(lowered) & UNMASKABLE_HEADERS)
        if refused:
            raise serializers.ValidationError(f"Not maskable: {', '.join(refused)}.")
        return sorted(set(lowered))


class DataMaskingSettingsSerializer(PluginSettingsSerializer):
    fail_open = None  # masking always fails closed
    predefined_entities = serializers.ListField(
        child=EntitySerializer(), required=False, default=list, max_length=len(NAMES)
    )
    rules = serializers.ListField(
        child=RuleSerializer(), required=False, default=list, max_length=MAX_RULES
    )
    apply_all = JSONBooleanField(default=DataMaskingConfig.apply_all)
    similarity_threshold = serializers.FloatField(
        default=DataMaskingConfig.similarity_threshold, min_value=0.0, max_value=1.0
    )
    max_edit_distance = serializers.IntegerField(
        default=DataMaskingConfig.max_edit_distance, min_value=0, max_value=5
    )
    normalize_input = JSONBooleanField(default=DataMaskingConfig.normalize_input)
    reversible_hashing = ReversibleHashingSerializer(required=False)
    targets = TargetsSerializer(required=False)

    def _unknown_key_message(self, key: str) -> str:
        if key == "fail_open":
            return "Not offered: data_masking always fails closed."
        return super()._unknown_key_message(key)

    def validate_predefined_entities(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = [item["entity"] for item in items]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise serializers.ValidationError(f"Entities named twice: {', '.join(twice)}.")
        return items

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        entities = any(item["enabled"] for item in attrs["predefined_entities"])
        if not (entities or attrs["rules"] or attrs["apply_all"]):
            raise serializers.ValidationError(
                {"predefined_entities": ["Give at least one enabled entity or rule, or apply_all."]}
            )
        attrs.setdefault("reversible_hashing", settings_of(ReversibleHashing()))
        attrs.setdefault("targets", settings_of(Targets()))
        return attrs
