"""Django admin of gateways, upstreams, services and rules; validated like the admin API.

The proxy compiles what is stored without re-validating it, so the admin forms run the API
serializers too: an invalid target or rule path saved here would break the whole gateway.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.db.models import JSONField, Model

from gateway_project.serializers import StrictModelSerializer
from gateways.models import Gateway, Rule, Service, Upstream
from gateways.serializers import (
    GatewaySerializer,
    RuleSerializer,
    ServiceSerializer,
    UpstreamSerializer,
)
from plugins.admin import GatewayPluginInline, RulePluginInline
from plugins.validation import error_messages


class ValidatedLikeTheApiForm(forms.ModelForm):
    """A model form whose cleaned data also passes (and is normalised by) the API serializer."""

    serializer_class: ClassVar[type[StrictModelSerializer]]
    related_fields: ClassVar[dict[str, str]] = {}  # form field → serializer field
    secret_fields: ClassVar[tuple[str, ...]] = ()  # shown as the API shows them: masked

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.secret_fields:
            shown = self.serializer_class(self.instance).data
            for name in self.secret_fields:
                self.initial[name] = shown[name]  # a mask sent back keeps the stored secret

    def default_empty_settings(self, cleaned: dict[str, Any]) -> None:
        """A settings object (a JSON field) left empty is not configured: its model default,
        as when the API is sent none."""
        for name, value in cleaned.items():
            field = self._meta.model._meta.get_field(name)
            if value is None and isinstance(field, JSONField) and field.has_default():
                cleaned[name] = field.get_default()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:  # field errors first; the serializer would only repeat them
            return cleaned
        to_form = {api: form for form, api in self.related_fields.items()}
        self.default_empty_settings(cleaned)
        data = {
            self.related_fields.get(name, name): value.pk if isinstance(value, Model) else value
            for name, value in cleaned.items()
            if name != "gateway"
        }
        serializer = self.serializer_class(
            instance=self.instance if self.instance.pk else None,
            data=data,
            context={"gateway": cleaned.get("gateway")},
        )
        if not serializer.is_valid():
            for key, detail in serializer.errors.items():
                field = to_form.get(key, key)
                self.add_error(field if field in self.fields else None, error_messages(detail))
            return cleaned
        for key, value in serializer.validated_data.items():
            field = to_form.get(key, key)
            if field not in self.fields:
                continue
            if key not in to_form:
                cleaned[field] = value  # normalised: target defaults, upper-case methods...
            elif value is None:
                cleaned[field] = None  # e.g. an endpoint service drops its upstream
        return cleaned


class GatewayForm(ValidatedLikeTheApiForm):
    serializer_class = GatewaySerializer

    def clean_security_config(self) -> dict[str, Any]:
        return self.cleaned_data["security_config"] or {}  # an emptied box: none


class UpstreamForm(ValidatedLikeTheApiForm):
    serializer_class = UpstreamSerializer
    secret_fields = ("targets", "proxy_config", "client_tls")


class ServiceForm(ValidatedLikeTheApiForm):
    serializer_class = ServiceSerializer
    related_fields = {"upstream": "upstream_id"}
    secret_fields = ("credentials",)


class RuleForm(ValidatedLikeTheApiForm):
    serializer_class = RuleSerializer
    related_fields = {"service": "service_id"}


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    form = GatewayForm
    list_display = ["name", "subdomain", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "subdomain"]
    inlines = [GatewayPluginInline]


@admin.register(Upstream)
class UpstreamAdmin(admin.ModelAdmin):
    form = UpstreamForm
    list_display = ["name", "gateway", "algorithm", "created_at"]
    list_filter = ["algorithm"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = ["name", "gateway", "type", "upstream", "host", "port"]
    list_filter = ["type"]
    search_fields = ["name", "host"]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = ["path", "name", "gateway", "service", "active", "public"]
    list_filter = ["active", "public"]
    search_fields = ["path", "name"]
    inlines = [RulePluginInline]
