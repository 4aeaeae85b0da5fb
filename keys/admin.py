"""Django admin of API keys (scopes and budgets included), their spend (read-only) and admin
tokens: a new secret is shown once, in a message."""

from typing import Any

from django import forms
from django.contrib import admin, messages

from keys.models import AdminToken, ApiKey, Spend
from keys.serializers import PoliciesSerializer
from keys.services import api_key_assign_secret, api_key_rotate
from plugins.validation import error_messages


class ApiKeyForm(forms.ModelForm):
    """Policies name rules of the key's gateway, as through the API."""

    class Meta:
        model = ApiKey
        fields = "__all__"  # noqa: DJ007 (the admin shows every editable field)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        gateway, policies = cleaned.get("gateway"), cleaned.get("policies")
        if gateway is not None and policies:
            checked = PoliciesSerializer(data={"policies": policies}, context={"gateway": gateway})
            if checked.is_valid():
                cleaned["policies"] = checked.validated_data["policies"]
            else:
                self.add_error("policies", error_messages(checked.errors["policies"]))
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "gateway",
        "expires_at",
        "max_budget_usd",
        "budget_duration",
        "created_at",
    ]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "rotated_at"]
    actions = ["rotate_selected"]

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if not change:
            self._new_secret(request, obj)
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate the selected keys (new secrets, old ones stop working)")
    def rotate_selected(self, request, queryset) -> None:
        for api_key in queryset:
            _, secret = api_key_rotate(api_key=api_key)
            self._show_secret(request, api_key, secret)

    def _new_secret(self, request, api_key: ApiKey) -> None:
        self._show_secret(request, api_key, api_key_assign_secret(api_key=api_key))

    @staticmethod
    def _show_secret(request, api_key: ApiKey, secret: str) -> None:
        messages.warning(
            request, f"Key {api_key.name!r}: {secret} (copy it now, it is not shown again)"
        )


@admin.register(AdminToken)
class AdminTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "prefix", "created_at"]
    readonly_fields = ["prefix", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # created with `manage.py create_admin_token`


@admin.register(Spend)
class SpendAdmin(admin.ModelAdmin):
    """Read-only: rows are written by the spend flush (keys.spend) from the Redis counters."""

    list_display = ["day", "gateway_id", "api_key_id", "model", "provider", "requests", "cost_usd"]
    list_filter = ["day", "provider"]
    search_fields = ["model", "api_key_id", "gateway_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
