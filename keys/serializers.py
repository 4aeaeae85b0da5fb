"""Admin API serializers of API keys (with their rule and model scopes and budgets): the secret
appears only in create and rotate responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from gateway_project.serializers import StrictModelSerializer, StrictSerializer
from gateways.governance import BudgetDurationField, ModelPatternsField, budget_field
from gateways.models import Rule
from gateways.targets import allowed_tools_field
from keys.models import ApiKey
from keys.spend import GROUPS

MAX_POLICIES = 1000


class PoliciesField(serializers.ListField):
    """Rule ids the key may use (TrustGate E2's `policies`); empty: every rule."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Ids of the rules the key may use; empty: all rules.")
        super().__init__(child=serializers.UUIDField(), max_length=MAX_POLICIES, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        rule_ids = list(dict.fromkeys(str(rule_id) for rule_id in super().to_internal_value(data)))
        gateway = self.context.get("gateway")
        known = {
            str(pk)
            for pk in Rule.objects.filter(gateway=gateway, pk__in=rule_ids).values_list(
                "pk", flat=True
            )
        }
        unknown = [rule_id for rule_id in rule_ids if rule_id not in known]
        if unknown:
            raise serializers.ValidationError(
                f"Not rules of this gateway: {', '.join(unknown[:10])}."
            )
        return rule_ids


class ApiKeySerializer(StrictModelSerializer):
    gateway_id = serializers.UUIDField(read_only=True)
    allowed_tools = allowed_tools_field("key")
    active = serializers.SerializerMethodField()
    not_supported_yet = frozenset({"subject_type", "subject"})  # TrustGate IAM keys
    policies = PoliciesField()
    allowed_models = ModelPatternsField()
    max_budget_usd = budget_field()
    budget_duration = BudgetDurationField()

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
            "policies",
            "allowed_models",
            "max_budget_usd",
            "budget_duration",
        ]
        read_only_fields = ["id", "prefix", "created_at", "rotated_at"]

    def get_active(self, api_key: ApiKey) -> bool:
        return not api_key.is_expired()

    def validate_expires_at(self, expires_at: datetime | None) -> datetime | None:
        if expires_at is not None and expires_at <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return expires_at


def with_plain_key(base: type[ApiKeySerializer], name: str) -> type[ApiKeySerializer]:
    """`base` plus the plain `key`: the one response that carries it (creation, rotation)."""
    meta = type("Meta", (base.Meta,), {"fields": [*base.Meta.fields, "key"]})
    key = serializers.CharField(read_only=True)
    return type(name, (base,), {"key": key, "Meta": meta, "__module__": __name__})


def display_prefix(_serializer: ApiKeySerializer, api_key: ApiKey) -> str:
    return f"{api_key.prefix}..."


def with_key_prefix(base: type[ApiKeySerializer], name: str) -> type[ApiKeySerializer]:
    """`base`, read-only, as TrustGate's key lists show it: `key` is only the display prefix."""
    fields = [*base.Meta.fields, "key"]
    meta = type("Meta", (base.Meta,), {"fields": fields, "read_only_fields": fields})
    namespace = {"key": serializers.SerializerMethodField(), "get_key": display_prefix}
    return type(name, (base,), namespace | {"Meta": meta, "__module__": __name__})


ApiKeyWithSecretSerializer = with_plain_key(ApiKeySerializer, "ApiKeyWithSecretSerializer")
PublicApiKeySerializer = with_key_prefix(ApiKeySerializer, "PublicApiKeySerializer")


class PoliciesSerializer(StrictSerializer):
    """The body of `PUT .../keys/{id}/policies`."""

    policies = PoliciesField(required=True)


class SpendQuerySerializer(StrictSerializer):
    """The query of the spend API: the days to sum (UTC, inclusive) and how to group them."""

    group_by = serializers.ChoiceField(choices=list(GROUPS), default="model")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateField(required=False)  # a keyword: set here
        self.fields["to"] = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": ["Must not be before from."]})
        return attrs


class SpendTotalSerializer(serializers.Serializer):
    cost_usd = serializers.FloatField()
    requests = serializers.IntegerField()


class SpendGroupSerializer(SpendTotalSerializer):
    """One group of the spend: `key`, `model`, `provider` or `day` names it."""

    key = serializers.CharField(required=False)
    model = serializers.CharField(required=False)
    provider = serializers.CharField(required=False)
    day = serializers.DateField(required=False)


class GatewaySpendSerializer(serializers.Serializer):
    """The schema of the gateway spend answer."""

    gateway_id = serializers.UUIDField()
    group_by = serializers.CharField()
    total = SpendTotalSerializer()
    spend = SpendGroupSerializer(many=True)


class BudgetStatusSerializer(serializers.Serializer):
    max_budget_usd = serializers.FloatField()
    budget_duration = serializers.CharField()
    used_usd = serializers.FloatField()
    remaining_usd = serializers.FloatField()


class KeySpendSerializer(serializers.Serializer):
    """The schema of a key's spend answer."""

    key_id = serializers.UUIDField()
    total = SpendTotalSerializer()
    by_model = SpendGroupSerializer(many=True)
    by_day = SpendGroupSerializer(many=True)
    budget = BudgetStatusSerializer(allow_null=True)


class IamApiKeySerializer(ApiKeySerializer):
    """TrustGate E2's IAM key (`/api/v1/iam/api-keys`): its `subject` is the gateway it belongs
    to (`subject_type` "gateway", the only type this gateway has)."""

    not_supported_yet = frozenset()
    subject_type = serializers.ChoiceField(choices=["gateway"], default="gateway")
    subject = serializers.UUIDField(source="gateway_id")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "subject_type", "subject"]


IamApiKeyWithSecretSerializer = with_plain_key(IamApiKeySerializer, "IamApiKeyWithSecretSerializer")
IamPublicApiKeySerializer = with_key_prefix(IamApiKeySerializer, "IamPublicApiKeySerializer")


class SubjectQuerySerializer(StrictSerializer):
    subject_id = serializers.UUIDField()
