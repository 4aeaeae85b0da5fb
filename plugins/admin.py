"""Plugin configurations are edited inline on gateways and rules (see gateways.admin)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from rest_framework import serializers

from plugins.models import PluginConfig
from plugins.ordering import CHAIN_FIELDS, refuse_unsafe_gateway_chain, refuse_unsafe_rule_chain
from plugins.validation import duplicate_plugin_message, error_messages, shown_settings


class PluginConfigForm(forms.ModelForm):
    """Shows the settings as the API does, secrets masked; a mask sent back keeps the stored
    secret (restored by `PluginConfig.clean`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["settings"] = shown_settings(self.instance.name, self.instance.settings)


class PluginInlineFormSet(BaseInlineFormSet):
    """Each row is validated by `PluginConfig.clean`; here, as in the API, the same plugin
    twice in one stage is refused, and so is a chain that breaks the order rule."""

    def clean(self) -> None:
        super().clean()
        seen: set[tuple[str, str]] = set()
        chain = []
        for form in self.forms:
            if not form.cleaned_data or self._should_delete_form(form):
                continue
            key = (form.cleaned_data.get("name"), form.cleaned_data.get("stage"))
            if key in seen:
                raise ValidationError(duplicate_plugin_message(*key))
            seen.add(key)
            chain.append({field: getattr(form.instance, field) for field in CHAIN_FIELDS})
        try:
            if self.fk.name == "rule":
                refuse_unsafe_rule_chain(chain, self.instance.gateway_id)
            else:
                refuse_unsafe_gateway_chain(chain, self.instance.pk)
        except serializers.ValidationError as exc:
            raise ValidationError(error_messages(exc.detail)) from exc


class GatewayPluginInline(admin.StackedInline):
    model = PluginConfig
    form = PluginConfigForm
    formset = PluginInlineFormSet
    fk_name = "gateway"
    exclude = ["rule"]
    extra = 0
    verbose_name = "required plugin"


class RulePluginInline(admin.StackedInline):
    model = PluginConfig
    form = PluginConfigForm
    formset = PluginInlineFormSet
    fk_name = "rule"
    exclude = ["gateway"]
    extra = 0
    verbose_name = "chained plugin"
