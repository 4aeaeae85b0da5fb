"""The shape of the plugin catalogue served at GET /api/v1/plugins (read only)."""

from rest_framework import serializers

from plugins.base import CATEGORIES


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
