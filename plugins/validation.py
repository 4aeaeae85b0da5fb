"""Validation of plugin configurations, shared by the admin API and the Django admin."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from gateway_project.serializers import LEGACY_CONTEXT, JSONBooleanField, StrictSerializer
from plugins.registry import registry
from plugins.secret_settings import masked_settings, restore_masked_settings, stored_counterpart
from plugins.stages import STAGES


class PluginConfigSerializer(StrictSerializer):
    """One entry of `required_plugins` or `plugin_chain`."""

    # Its settings are validated by the plugin's settings serializer and replaced by its
    # normalised output: that is what is stored.

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=100)
    enabled = JSONBooleanField(default=True)
    stage = serializers.ChoiceField(choices=STAGES)
    priority = serializers.IntegerField(default=0, min_value=0, max_value=999)
    parallel = JSONBooleanField(default=False)
    settings = serializers.DictField(default=dict)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        plugin_class = registry.get(attrs["name"])
        if plugin_class is None:
            raise serializers.ValidationError(
                {
                    "name": [
                        f"Unknown plugin {attrs['name']!r}. Known: {', '.join(registry.names())}."
                    ]
                }
            )
        if attrs["stage"] not in plugin_class.allowed_stages:
            raise serializers.ValidationError(
                {
                    "stage": [
                        f"Plugin {plugin_class.name!r} cannot run in stage {attrs['stage']!r}; "
                        f"allowed: {', '.join(plugin_class.allowed_stages)}."
                    ]
                }
            )
        _, unrestored = restore_masked_settings(attrs["name"], attrs["settings"], None)
        if unrestored:  # a mask no stored secret stands behind (the chain restored the others)
            raise serializers.ValidationError({"settings": unrestored})
        try:
            attrs["settings"] = plugin_class.validated_settings(attrs["settings"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"settings": exc.detail}) from exc
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["settings"] = masked_settings(data.get("name"), data.get("settings"))
        return data


class WholeItemsListField(serializers.ListField):
    """A list whose items are validated whole (required fields, defaults), even in a PATCH.

    DRF skips the required checks and defaults of nested fields when the root serializer is
    partial; a list replaces the stored one entirely, so each item must be complete. (Items
    are validated unbound, so they see no serializer context.)
    """

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        unbound = serializers.ListField(child=copy.deepcopy(self.child))
        return unbound.run_child_validation(data)


class PluginChainField(WholeItemsListField):
    """A list of plugin configurations; the same plugin twice in one stage is refused."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", PluginConfigSerializer())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        chain = super().to_internal_value(self._restore_masked_secrets(data))
        seen: set[tuple[str, str]] = set()
        for index, plugin in enumerate(chain):
            key = (plugin["name"], plugin["stage"])
            if key in seen:
                raise serializers.ValidationError(
                    {index: {"name": [duplicate_plugin_message(*key)]}}
                )
            seen.add(key)
        return chain

    def _restore_masked_secrets(self, data: Any) -> Any:
        """Secrets sent back as the mask (a GET edited and PUT back) take the stored values
        of the chain this field replaces."""
        owner = getattr(self.parent, "instance", None)
        if not isinstance(data, list) or owner is None or owner.pk is None:
            return data
        stored = list(getattr(owner, self.source).all())
        restored = []
        for item in data:
            if isinstance(item, dict) and isinstance(item.get("settings"), dict):
                previous = stored_counterpart(item, stored)
                settings, _ = restore_masked_settings(item.get("name"), item["settings"], previous)
                item = {**item, "settings": settings}
            restored.append(item)
        return restored

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        if hasattr(data, "all"):
            data = data.all()
        return [self.child.to_representation(item) for item in data]


def validate_plugin_config_model(config: models.Model) -> None:
    """Django-admin validation of one PluginConfig row, with the API's rules and messages;
    the row's settings become the normalised ones the API would store."""
    settings = config.settings if config.settings is not None else {}
    if config.pk is not None:
        stored = type(config)._default_manager.filter(pk=config.pk).values_list("settings")
        previous = stored.first()
        settings, _ = restore_masked_settings(config.name, settings, previous and previous[0])
    serializer = PluginConfigSerializer(
        data={
            "name": config.name,
            "enabled": config.enabled,
            "stage": config.stage,
            "priority": config.priority,
            "parallel": config.parallel,
            "settings": settings,
        }
    )
    if not serializer.is_valid():
        raise DjangoValidationError(
            {
                NON_FIELD_ERRORS if key == "non_field_errors" else key: error_messages(detail)
                for key, detail in serializer.errors.items()
            }
        )
    config.settings = serializer.validated_data["settings"]


def error_messages(detail: Any, prefix: str = "") -> list[str]:
    """DRF error details as plain sentences, nested keys as a prefix (`limits: per_ip: ...`)."""
    if isinstance(detail, dict):
        return [
            message
            for key, value in detail.items()
            for message in error_messages(
                value, prefix if key == "non_field_errors" else f"{prefix}{key}: "
            )
        ]
    if isinstance(detail, list):
        return [message for item in detail for message in error_messages(item, prefix)]
    return [f"{prefix}{detail}"]


def duplicate_plugin_message(name: str, stage: str) -> str:
    return f"Plugin {name!r} appears twice in stage {stage!r}."


def renormalised_settings(name: str, settings: Any) -> dict[str, Any] | None:
    """Stored settings of plugin `name` as they are stored now, read the way they were read
    before validation was strict (textual booleans as DRF reads them, unknown keys dropped);
    None when even that fails or the plugin is unknown (the row is then left as it is)."""
    plugin_class = registry.get(name)
    if plugin_class is None:
        return None
    try:
        return plugin_class.validated_settings(settings, context=LEGACY_CONTEXT)
    except serializers.ValidationError:
        return None
