"""Django admin of gateways, upstreams, services and rules; plugins inline, validated."""

from django.contrib import admin

from gateways.models import Gateway, Rule, Service, Upstream
from plugins.admin import GatewayPluginInline, RulePluginInline


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    list_display = ["name", "subdomain", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "subdomain"]
    inlines = [GatewayPluginInline]


@admin.register(Upstream)
class UpstreamAdmin(admin.ModelAdmin):
    list_display = ["name", "gateway", "algorithm", "created_at"]
    list_filter = ["algorithm"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "gateway", "type", "upstream", "host", "port"]
    list_filter = ["type"]
    search_fields = ["name", "host"]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["path", "name", "gateway", "service", "active", "public"]
    list_filter = ["active", "public"]
    search_fields = ["path", "name"]
    inlines = [RulePluginInline]
