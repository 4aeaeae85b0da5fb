"""Django admin of API keys and admin tokens: a new secret is shown once, in a message."""

from django.contrib import admin, messages

from keys.models import AdminToken, ApiKey
from keys.services import api_key_assign_secret, api_key_rotate


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "gateway", "expires_at", "created_at"]
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
