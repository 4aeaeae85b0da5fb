"""The plugin catalogue's shape (GET /api/v1/plugins) and the bodies that change a chain."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway_project.serializers import StrictSerializer
from plugins.base import CATEGORIES
from plugins.validation import PluginChainField, PluginConfigSerializer, WholeItemsListField


class PluginCatalogueEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="UUIDv5 of the name (the same id TrustGate gives it).")
    name = serializers.CharField(help_text="Name to use in `required_plugins` and `plugins`.")
    label = serializers.CharField(help_text="Display name.")
    description = serializers.CharField()
    category = serializers.ChoiceField(choices=CATEGORIES)
    allowed_stages = serializers.ListField(child=serializers.CharField())
    fixed_stages = serializers.ListField(
        child=serializers.CharField(), help_text="Stages the plugin always runs at."
    )
    settings_schema = serializers.DictField(
        help_text="JSON Schema of the plugin's `settings` object."
    )


MAX_PLUGINS_PER_WRITE = 100


class PluginOwnerSerializer(StrictSerializer):
    type = serializers.ChoiceField(
        choices=["gateway", "rule"], help_text="Whose plugins: a gateway's or a rule's."
    )
    id = serializers.UUIDField(help_text="The gateway's or the rule's id.")


class PluginsAddSerializer(PluginOwnerSerializer):
    plugins = PluginChainField(
        required=True, min_length=1, max_length=MAX_PLUGINS_PER_WRITE, help_text="Appended."
    )


class PluginUpdateSerializer(StrictSerializer):
    operation = serializers.ChoiceField(choices=["add", "edit", "delete"])
    plugin = PluginConfigSerializer(
        required=False, help_text="add, edit: the plugin (edit: it replaces the one named so)."
    )
    plugin_name = serializers.CharField(
        required=False, max_length=100, help_text="delete: the name of the plugin to remove."
    )
    old_plugin_name = serializers.CharField(
        required=False, max_length=100, help_text="edit: the name of the plugin to replace."
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # A delete may name its plugin as `plugin: {"name": ...}` (TrustGate accepts it).
        if isinstance(data, dict) and data.get("operation") == "delete":
            plugin = data.get("plugin")
            data = {key: value for key, value in data.items() if key != "plugin"}
            if isinstance(plugin, dict) and "plugin_name" not in data:
                data["plugin_name"] = plugin.get("name")
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["operation"] in {"add", "edit"} and "plugin" not in attrs:
            raise serializers.ValidationError({"plugin": [f"Required for {attrs['operation']}."]})
        if attrs["operation"] == "delete" and not attrs.get("plugin_name"):
            raise serializers.ValidationError({"plugin_name": ["Required for delete."]})
        return attrs


class PluginsUpdateSerializer(PluginOwnerSerializer):
    updates = WholeItemsListField(
        child=PluginUpdateSerializer(),
        min_length=1,
        max_length=MAX_PLUGINS_PER_WRITE,
        help_text="Applied in order, all or none.",
    )


class PluginsDeleteSerializer(PluginOwnerSerializer):
    plugins = serializers.ListField(
        child=serializers.CharField(max_length=100),
        min_length=1,
        max_length=MAX_PLUGINS_PER_WRITE,
        help_text="Names of the plugins to remove (in every stage).",
    )
