"""Plugin configurations are edited inline on gateways and rules (see gateways.admin)."""

from django.contrib import admin

from plugins.models import PluginConfig


class GatewayPluginInline(admin.StackedInline):
    model = PluginConfig
    fk_name = "gateway"
    exclude = ["rule"]
    extra = 0
    verbose_name = "required plugin"


class RulePluginInline(admin.StackedInline):
    model = PluginConfig
    fk_name = "rule"
    exclude = ["gateway"]
    extra = 0
    verbose_name = "chained plugin"
