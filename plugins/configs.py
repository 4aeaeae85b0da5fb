"""Typed plugin configs: frozen dataclasses built from stored, already validated settings.

A plugin's settings are validated and normalised by its serializer when they are written; what
is stored becomes the plugin's `Config` when its chain is compiled, by `config_from`, without
the serializer. Lists become tuples (or frozensets), objects nested dataclasses or read-only
mappings; a key left out takes the Config's default (the serializer's defaults are the Config's,
so settings stored before a setting with a default existed read as if written today). Stored
data that does not have the Config's shape (an unknown key, a missing required one, a value of
another type) is refused with ConfigError: the chain is not built, as when the serializer ran.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

C = TypeVar("C", bound="Config")
SCALARS = (str, int, float, bool)


class ConfigError(ValueError):
    """Stored settings that do not make the plugin's Config."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """The settings every plugin has; a plugin's Config subclasses it with its own fields."""

    fail_open: bool | None = None  # None: the plugin's fail_open_default


@dataclasses.dataclass(frozen=True, kw_only=True)
class UntypedConfig(Config):
    """The config of a plugin that declares no Config of its own: its stored settings as they
    are, read through `Plugin.settings` (a step on the way to a Config)."""

    stored: Mapping[str, Any]


def empty_mapping() -> Mapping[str, Any]:
    """The default of a Mapping field (`field(default_factory=empty_mapping)`)."""
    return types.MappingProxyType({})


def config_from(config_class: type[C], settings: Any) -> C:
    """The `config_class` of stored, validated `settings` (a JSON object); raises ConfigError."""
    return _dataclass(config_class, settings, "")


@functools.cache
def _fields(config_class: type) -> dict[str, tuple[Any, bool]]:
    """Field name -> (resolved type, required) of a config dataclass (worked out once)."""
    hints = typing.get_type_hints(config_class)
    return {
        field.name: (
            hints[field.name],
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
        )
        for field in dataclasses.fields(config_class)
    }


def _dataclass(config_class: type[C], data: Any, where: str) -> C:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'settings'}: an object is expected")
    fields = _fields(config_class)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where or 'settings'}: unknown setting {unknown[0]!r}")
    missing = [name for name, (_, required) in fields.items() if required and name not in data]
    if missing:
        raise ConfigError(f"{where or 'settings'}: {missing[0]!r} is required")
    values = {
        name: _value(fields[name][0], value, f"{where}{name}") for name, value in data.items()
    }
    return config_class(**values)


def _value(kind: Any, value: Any, where: str) -> Any:
    """`value` as a `kind` (a scalar, Any, a Literal, a config dataclass, tuple[X, ...],
    frozenset[X], Mapping[str, X], or X | None)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (kind,) = [arg for arg in args if arg is not type(None)]
        return _value(kind, value, where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, value, f"{where}.")
    if origin in (tuple, frozenset):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: a list is expected")
        items = (_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
        return origin(items)
    if origin is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: an object is expected")
        return types.MappingProxyType(
            {key: _value(args[1], item, f"{where}.{key}") for key, item in value.items()}
        )
    return _scalar(kind, value, where)


def _scalar(kind: type, value: Any, where: str) -> Any:
    if kind not in SCALARS:
        raise TypeError(f"{where}: a Config field cannot be a {kind!r}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: a {kind.__name__} is expected")
    return value


def settings_of(config: Config) -> dict[str, Any]:
    """The stored form of `config` (JSON values; a None field is a setting left out): what
    `config_from` reads back as the same config."""
    return {
        field.name: _stored(getattr(config, field.name))
        for field in dataclasses.fields(config)
        if getattr(config, field.name) is not None
    }


def _stored(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return settings_of(value)
    if isinstance(value, tuple | frozenset):
        return [_stored(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _stored(item) for key, item in value.items()}
    return value
