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
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

C = TypeVar("C", bound="Config")
SCALARS = (str, int, float, bool)


class ConfigError(ValueError):
    """Stored settings that do not make the plugin's Config."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """The settings every plugin has; a plugin's Config subclasses it with its own fields."""

    fail_open: bool | None = None  # None: the plugin's fail_open_default


def empty_mapping() -> Mapping[str, Any]:
    """The default of a Mapping field (`field(default_factory=empty_mapping)`)."""
    return types.MappingProxyType({})


def config_from(config_class: type[C], settings: Any) -> C:
    """The `config_class` of stored, validated `settings` (a JSON object); raises ConfigError."""
    return _converter(config_class)(settings, "")


Convert = Callable[[Any, str], Any]  # (stored value, where it is) -> typed value


@functools.cache
def _converter(kind: Any) -> Convert:
    """How a stored value becomes a `kind` (a scalar, Any, a Literal, a config dataclass,
    tuple[X, ...], frozenset[X], Mapping[str, X], or X | None), worked out once per type."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return lambda value, where: value
    if origin in (types.UnionType, typing.Union):
        (inner,) = [arg for arg in args if arg is not type(None)]
        convert = _converter(inner)
        return lambda value, where: None if value is None else convert(value, where)
    if origin is Literal:
        return functools.partial(_literal, args)
    if dataclasses.is_dataclass(kind):
        return _dataclass_converter(kind)
    if origin in (tuple, frozenset):
        return functools.partial(_sequence, origin, _converter(args[0]))
    if origin is Mapping:
        return functools.partial(_mapping, _converter(args[1]))
    if kind not in SCALARS:
        raise TypeError(f"a Config field cannot be a {kind!r}")
    return functools.partial(_scalar, kind)


def _dataclass_converter(config_class: type) -> Convert:
    hints = typing.get_type_hints(config_class)
    fields = {
        field.name: _converter(hints[field.name]) for field in dataclasses.fields(config_class)
    }
    required = [
        field.name
        for field in dataclasses.fields(config_class)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    ]

    def convert(data: Any, where: str) -> Any:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where or 'settings'}: an object is expected")
        try:
            values = {name: fields[name](value, f"{where}{name}") for name, value in data.items()}
        except KeyError as exc:
            unknown = sorted(set(data) - set(fields))[0]
            raise ConfigError(f"{where or 'settings'}: unknown setting {unknown!r}") from exc
        missing = [name for name in required if name not in values]
        if missing:
            raise ConfigError(f"{where or 'settings'}: {missing[0]!r} is required")
        return config_class(**values)

    return lambda data, where: convert(data, f"{where}." if where else "")


def _literal(choices: tuple[Any, ...], value: Any, where: str) -> Any:
    if value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def _sequence(kind: type, convert: Convert, value: Any, where: str) -> Any:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: a list is expected")
    return kind(convert(item, f"{where}[{index}]") for index, item in enumerate(value))


def _mapping(convert: Convert, value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: an object is expected")
    return types.MappingProxyType(
        {key: convert(item, f"{where}.{key}") for key, item in value.items()}
    )


def _scalar(kind: type, value: Any, where: str) -> Any:
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
