"""The plugin registry: plugin classes named in `GATEWAY["PLUGINS"]`, checked at start-up."""

from __future__ import annotations

import dataclasses

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rest_framework import serializers

from gateway_project.conf import gateway_settings
from plugins.base import CATEGORIES, Plugin
from plugins.configs import Config
from plugins.stages import STAGES


class PluginRegistry:
    """Name → plugin class, filled once from settings; misconfiguration stops start-up."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Plugin]] = {}

    def load(self) -> None:
        classes: dict[str, type[Plugin]] = {}
        for path in gateway_settings.PLUGINS:
            plugin_class = self._import(path)
            if plugin_class.name in classes:
                raise ImproperlyConfigured(f"two plugins are named {plugin_class.name!r}")
            classes[plugin_class.name] = plugin_class
        self._classes = classes

    @staticmethod
    def _import(path: str) -> type[Plugin]:
        try:
            plugin_class = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"GATEWAY['PLUGINS']: cannot import {path!r}: {exc}"
            ) from exc
        if not (isinstance(plugin_class, type) and issubclass(plugin_class, Plugin)):
            raise ImproperlyConfigured(f"GATEWAY['PLUGINS']: {path!r} is not a Plugin subclass")
        if not plugin_class.name:
            raise ImproperlyConfigured(f"GATEWAY['PLUGINS']: {path!r} declares no name")
        stages = set(plugin_class.allowed_stages) | set(plugin_class.fixed_stages)
        if not stages or not stages <= set(STAGES):
            raise ImproperlyConfigured(f"GATEWAY['PLUGINS']: {path!r} declares unknown stages")
        if plugin_class.category not in CATEGORIES:
            raise ImproperlyConfigured(
                f"GATEWAY['PLUGINS']: {path!r} declares no category of {', '.join(CATEGORIES)}"
            )
        if not issubclass(plugin_class.settings_serializer, serializers.Serializer):
            raise ImproperlyConfigured(f"GATEWAY['PLUGINS']: {path!r} has no settings serializer")
        PluginRegistry._check_config(path, plugin_class)
        return plugin_class

    @staticmethod
    def _check_config(path: str, plugin_class: type[Plugin]) -> None:
        """The plugin's Config is a frozen Config dataclass with a field of each setting."""
        config = plugin_class.Config
        if not (
            isinstance(config, type)
            and issubclass(config, Config)
            and config.__dataclass_params__.frozen  # type: ignore[attr-defined]
        ):
            raise ImproperlyConfigured(
                f"GATEWAY['PLUGINS']: {path!r}: its Config is not a frozen plugins.configs.Config"
            )
        fields = {field.name for field in dataclasses.fields(config)}
        missing = sorted(set(plugin_class.settings_serializer().fields) - fields)
        if missing:
            raise ImproperlyConfigured(
                f"GATEWAY['PLUGINS']: {path!r}: its Config has no field {', '.join(missing)}"
            )

    def get(self, name: str) -> type[Plugin] | None:
        return self._classes.get(name)

    def names(self) -> list[str]:
        return sorted(self._classes)

    def all(self) -> list[type[Plugin]]:
        return [self._classes[name] for name in self.names()]


registry = PluginRegistry()
