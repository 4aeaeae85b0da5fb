"""Plugin configurations are edited inline on gateways and rules (see gateways.admin)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from plugins.models import PluginConfig
from plugins.validation import duplicate_plugin_message, shown_settings


class PluginConfigForm(forms.ModelForm):
    """Shows the settings as the API does, secrets masked; a mask sent back keeps the stored
    secret (restored by `PluginConfig.clean`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["settings"] = shown_settings(self.instance.name, self.instance.settings)


class PluginInlineFormSet(BaseInlineFormSet):
    """Each row is validated by `PluginConfig.clean`; here, as in the API, the same plugin
    twice in one stage is refused."""

    def clean(self) -> None:
        super().clean()
        seen: set[tuple[str, str]] = set()
        for form in self.forms:
            if not form.cleaned_data or self._should_delete_form(form):
                continue
            key = (form.cleaned_data.get("name"), form.cleaned_data.get("stage"))
            if key in seen:
                raise ValidationError(duplicate_plugin_message(*key))
            seen.add(key)


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
