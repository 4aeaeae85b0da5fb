"""Validation of plugin configurations, shared by the admin API and the Django admin."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from gateway_project.secret_masking import masked_settings, restored_settings
from gateway_project.serializers import LEGACY_CONTEXT, JSONBooleanField, StrictSerializer
from plugins.registry import registry
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
        try:
            attrs["settings"] = plugin_class.validated_settings(attrs["settings"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"settings": exc.detail}) from exc
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {**data, "settings": shown_settings(data.get("name"), data.get("settings"))}


def shown_settings(name: Any, settings: Any) -> Any:
    """Settings of plugin `name` as the admin shows them: its secrets masked."""
    plugin_class = registry.get(name) if isinstance(name, str) else None
    if plugin_class is None or not plugin_class.secret_settings:
        return settings
    return masked_settings(plugin_class.secret_settings, settings)


def restore_plugin_secrets(plugin: dict[str, Any], stored: Any) -> dict[str, Any]:
    """A validated plugin entry whose masked secrets take the `stored` settings' values."""
    plugin_class = registry.get(plugin["name"])
    if plugin_class is None or not plugin_class.secret_settings:
        return plugin
    try:
        settings = restored_settings(plugin_class.secret_settings, plugin["settings"], stored)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"settings": exc.detail}) from exc
    return {**plugin, "settings": settings}


def restore_chain_secrets(chain: list[dict[str, Any]], stored: Any) -> list[dict[str, Any]]:
    """`restore_plugin_secrets` for each plugin of a chain written whole, against the stored
    plugin of the same name and stage (`stored`: PluginConfig rows or entries)."""
    by_key = {(_field(row, "name"), _field(row, "stage")): row for row in stored}
    restored, errors = [], {}
    for index, plugin in enumerate(chain):
        previous = by_key.get((plugin["name"], plugin["stage"]))
        try:
            restored.append(
                restore_plugin_secrets(plugin, _field(previous, "settings") if previous else None)
            )
        except serializers.ValidationError as exc:
            errors[index] = exc.detail
    if errors:
        raise serializers.ValidationError(errors)
    return restored


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


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
        chain = super().to_internal_value(data)
        seen: set[tuple[str, str]] = set()
        for index, plugin in enumerate(chain):
            key = (plugin["name"], plugin["stage"])
            if key in seen:
                raise serializers.ValidationError(
                    {index: {"name": [duplicate_plugin_message(*key)]}}
                )
            seen.add(key)
        return chain

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        if hasattr(data, "all"):
            data = data.all()
        return [self.child.to_representation(item) for item in data]


def validate_plugin_config_model(config: models.Model) -> None:
    """Django-admin validation of one PluginConfig row, with the API's rules and messages;
    the row's settings become the normalised ones the API would store."""
    serializer = PluginConfigSerializer(
        data={
            "name": config.name,
            "enabled": config.enabled,
            "stage": config.stage,
            "priority": config.priority,
            "parallel": config.parallel,
            "settings": config.settings if config.settings is not None else {},
        }
    )
    if not serializer.is_valid():
        raise _django_error(serializer.errors)
    stored = None
    if not config._state.adding:
        stored = (
            type(config)
            ._default_manager.filter(pk=config.pk)
            .values_list("settings", flat=True)
            .first()
        )
    try:
        plugin = restore_plugin_secrets(dict(serializer.validated_data), stored)
    except serializers.ValidationError as exc:
        raise _django_error(exc.detail) from exc
    config.settings = plugin["settings"]


def _django_error(errors: Any) -> DjangoValidationError:
    return DjangoValidationError(
        {
            NON_FIELD_ERRORS if key == "non_field_errors" else key: error_messages(detail)
            for key, detail in errors.items()
        }
    )


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
