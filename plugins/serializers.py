"""The shape of the plugin catalogue served at GET /api/v1/plugins (read only)."""

from rest_framework import serializers


class PluginCatalogueEntrySerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Name to use in `required_plugins` and `plugins`.")
    description = serializers.CharField()
    allowed_stages = serializers.ListField(child=serializers.CharField())
    fixed_stages = serializers.ListField(
        child=serializers.CharField(), help_text="Stages the plugin always runs at."
    )
    settings_schema = serializers.DictField(
        help_text="JSON Schema of the plugin's `settings` object."
    )
